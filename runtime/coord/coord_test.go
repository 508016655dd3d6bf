package coord_test

import (
	"testing"

	"github.com/weirstream/weir/runtime/coord"
	"github.com/weirstream/weir/runtime/coord/coordtest"
)

// TestMemKV runs the conformance suite on the in-memory twin.
func TestMemKV(t *testing.T) {
	coordtest.Run(t, func(*testing.T) coord.KV { return new(coord.MemKV) })
}

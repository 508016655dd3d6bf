package conformance_test

import (
	"testing"

	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/conformance"
	"github.com/weirstream/weir/runtime/memory"
)

// The in-memory twins pass the same suites as the plugins they stand in for.

func TestMemorySnapshotStore(t *testing.T) {
	conformance.TestSnapshotStore(t, func(t *testing.T) runtime.SnapshotStore { return memory.NewStore() })
}

func TestMemoryStateBackend(t *testing.T) {
	conformance.TestStateBackend(t, memory.StateFactory{}, func(t *testing.T) runtime.SnapshotStore { return memory.NewStore() })
}

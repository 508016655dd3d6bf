package natsobj_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/weirstream/weir/plugins/nats/natsobj"
	"github.com/weirstream/weir/plugins/nats/natstest"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/conformance"
)

// TestSnapshotStore runs the snapshot store conformance suite on a real
// JetStream object store (a fresh bucket per subtest, one embedded server).
func TestSnapshotStore(t *testing.T) {
	srv := natstest.Start(t)
	js := srv.JetStream(t)
	var n atomic.Int64
	conformance.TestSnapshotStore(t, func(t *testing.T) runtime.SnapshotStore {
		s, err := natsobj.Open(context.Background(), js, natsobj.Options{Bucket: fmt.Sprintf("catalog-%d", n.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

package runtime

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/weirstream/weir/abi"
)

// TestEmitOwned checks the hand-over of a source's batch: taken as it is only
// by a single edge that sends whole batches and holds nothing for the target,
// and in every case the targets receive the same records in the same order as
// with emit, in batches with an edge writer's header.
func TestEmitOwned(t *testing.T) {
	batch := func(keys ...string) []byte {
		var w abi.Writer
		w.Reset()
		for _, k := range keys {
			w.Append(abi.Entry{Key: []byte(k), Value: []byte("v" + k), Timestamp: 7, TrackingID: 9})
		}
		w.SetWatermark(42) // a source's Read may set it; what is sent must not carry it
		return w.Detach()
	}
	tests := []struct {
		name      string
		partition Partitioning
		targets   int
		edges     int
		buffered  bool // a record is already buffered for the target
		wantTaken bool
	}{
		{"forward", Forward, 1, 1, false, true},
		{"forward with a buffered record", Forward, 1, 1, true, false},
		{"rebalance", Rebalance, 2, 1, false, true},
		{"key by", KeyBy, 2, 1, false, false},
		{"two edges", Forward, 1, 2, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := newBufPool()
			var queues []*simQueue
			port := &output{}
			for range tc.edges {
				var links []link
				for range tc.targets {
					q := &simQueue{}
					queues = append(queues, q)
					links = append(links, q)
				}
				port.edges = append(port.edges, newOutEdge(tc.partition, links, 128, DefaultBatchRecords, pool))
			}
			outs := outputs{port}
			if tc.buffered {
				port.edges[0].writers[0].AppendBatch(batch("0"))
			}
			b := batch("1", "2", "3")
			taken, err := outs.emitOwned(0, b)
			if err != nil || taken != tc.wantTaken {
				t.Fatalf("emitOwned: taken %v, err %v; want taken %v", taken, err, tc.wantTaken)
			}
			if err := outs.flush(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, q := range queues {
				for _, m := range q.msgs {
					if m.kind != msgBatch || abi.Watermark(m.batch) != abi.NoTimestamp || abi.ProcessingTime(m.batch) != 0 {
						t.Fatalf("message %+v: not a batch with an edge writer's header", m)
					}
					if taken && !bytes.Equal(m.batch[abi.BatchHeaderSize:], b[abi.BatchHeaderSize:]) {
						t.Fatalf("the handed-over batch changed")
					}
					r := abi.NewReader(m.batch)
					for r.Next() {
						e := r.Entry()
						got = append(got, fmt.Sprintf("%s=%s@%d#%d", e.Key, e.Value, e.Timestamp, e.TrackingID))
					}
					if r.Err() != nil {
						t.Fatal(r.Err())
					}
				}
			}
			want := []string{"1=v1@7#9", "2=v2@7#9", "3=v3@7#9"}
			if tc.buffered {
				want = append([]string{"0=v0@7#9"}, want...)
			}
			if tc.edges == 2 {
				want = append(want, want...)
			}
			if tc.partition == KeyBy {
				if len(got) != len(want) {
					t.Fatalf("got %q, want the records %q in some split", got, want)
				}
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

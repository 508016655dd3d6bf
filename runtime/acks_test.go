package runtime_test

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
)

// TestAcksPartialNack splits messages into words, some of which poison the
// keyed count after the split (policy dlq), while the ack target fails now
// and then mid-delivery (each failure restarts the job): every message must
// get exactly one status, an ACK when none of its words failed, else a NACK
// whose parts are exactly its failed words, each naming its DLQ entry.
func TestAcksPartialNack(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var recs []memory.Record
	poisoned := map[uint64]int{} // record number -> failed words
	for i := range 400 {
		words := make([]string, 1+rng.Intn(5))
		for j := range words {
			words[j] = fmt.Sprintf("w%d", rng.Intn(7))
			if rng.Intn(12) == 0 {
				words[j] = "poison"
				poisoned[uint64(i)]++
			}
		}
		recs = append(recs, memory.Record{Key: fmt.Sprint(i), Value: strings.Join(words, " "), Timestamp: int64(i)})
	}
	acks := &flakyAcks{Acks: memory.NewAcks(), rng: rand.New(rand.NewSource(2)), failFirst: true}
	store := memory.NewStore()
	job := &runtime.Job{
		Name:       "orders",
		Checkpoint: runtime.CheckpointConfig{Interval: 5 * time.Millisecond},
		Restart:    runtime.RestartConfig{Attempts: 1000, Delay: time.Millisecond},
		Sources:    []*runtime.SourceNode{{Name: "in", Parallelism: 1, Source: memory.NewSource(recs)}},
		Operators: []*runtime.OperatorNode{
			{Name: "split", Parallelism: 2, Inputs: []runtime.Input{{From: "in", Partition: runtime.Rebalance}}, Factory: runtime.NewTestSplitWords()},
			{Name: "count", Parallelism: 2, Inputs: []runtime.Input{{From: "split", Partition: runtime.KeyBy}}, Factory: runtime.NewTestCount(), OnFailure: runtime.FailurePolicy{Action: runtime.FailDLQ}},
		},
		Sinks: []*runtime.SinkNode{{Name: "out", Parallelism: 1, Inputs: []runtime.Input{{From: "count", Partition: runtime.Rebalance}}, Sink: memory.NewSink()}},
		Acks:  acks,
	}
	res, err := runtime.Run(context.Background(), job, runtime.Config{Store: store, State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil || !res.Finished {
		t.Fatalf("run: %+v, %v", res, err)
	}
	if acks.failures == 0 || res.Restarts == 0 {
		t.Fatalf("%d delivery failures, %d restarts: the redelivery path did not run", acks.failures, res.Restarts)
	}
	if err := checkStatuses(t, acks.Acks, len(recs), poisoned, store); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages, %d NACKed; %d deliveries over %d restarts", len(recs), len(poisoned), acks.Deliveries(), res.Restarts)
}

// checkStatuses fails unless records 0..n-1 of the one split got one status
// each: a NACK with poisoned[seq] parts, each a DLQ entry of the message, or
// an ACK when poisoned[seq] is 0; and unless every DLQ entry is some part.
func checkStatuses(t *testing.T, acks *memory.Acks, n int, poisoned map[uint64]int, store runtime.SnapshotStore) error {
	if c := acks.Conflicts(); len(c) > 0 {
		return fmt.Errorf("%d messages delivered with two statuses, first: %s", len(c), c[0])
	}
	dlq, err := runtime.ReadDLQ(context.Background(), store)
	if err != nil {
		return err
	}
	entries := map[int64]*runtime.DeadLetter{}
	for _, d := range dlq.Entries {
		entries[d.ID] = d
	}
	seen, parts := map[uint64]bool{}, 0
	for _, a := range acks.Statuses() {
		if a.Source != "in" || a.Split != "0" || a.Seq >= uint64(n) || seen[a.Seq] {
			return fmt.Errorf("a status for %s, which is no input record or has one already", a.ID)
		}
		seen[a.Seq] = true
		if len(a.Failed) != poisoned[a.Seq] {
			return fmt.Errorf("%s: %d failed parts %+v, want %d", a.ID, len(a.Failed), a.Failed, poisoned[a.Seq])
		}
		for _, p := range a.Failed {
			d := entries[p.DLQ]
			if d == nil || d.TrackingID != a.TrackingID || p.Operator != "count" || string(p.Key) != "poison" || d.Error != p.Error {
				return fmt.Errorf("%s: part %+v is not its DLQ entry (%+v)", a.ID, p, d)
			}
			parts++
		}
	}
	if len(seen) != n {
		return fmt.Errorf("%d of %d messages got a status", len(seen), n)
	}
	if parts != len(dlq.Entries) {
		return fmt.Errorf("the NACKs list %d parts, the DLQ holds %d entries", parts, len(dlq.Entries))
	}
	return nil
}

// TestAckPieces checks the cuts every target shares: at multiples of the
// size, then halved while a piece's JSON is over the bound (a long NACK
// error), one message's statuses going out whole; the same in every call.
func TestAckPieces(t *testing.T) {
	long := strings.Repeat("x", 300)
	batches := []runtime.AckBatch{
		{Job: "j", Source: "in", Split: "0", Checkpoint: 1, From: 7, To: 25, Nacks: []runtime.Nack{{Seq: 12, Failed: []runtime.AckPart{{DLQ: 1, Operator: "op", Error: long}}}}},
		{Job: "j", Source: "in", Split: "1", Checkpoint: 1, From: 0, To: 4},
	}
	for _, tt := range []struct {
		name     string
		maxBytes int
		want     string
	}{
		{"cut at multiples", 1 << 20, "j/in/0/7-10 j/in/0/10-20 j/in/0/20-25 j/in/1/0-4"},
		{"long NACK halved", 300, "j/in/0/7-10 j/in/0/10-12 j/in/0/12-13 j/in/0/13-15 j/in/0/15-20 j/in/0/20-25 j/in/1/0-4"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 {
				var got []string
				err := runtime.AckPieces(batches, 10, tt.maxBytes, func(b runtime.AckBatch, body []byte) error {
					if len(body) > tt.maxBytes && b.To-b.From > 1 {
						t.Errorf("%s: %d bytes of JSON, over %d", b.ID(), len(body), tt.maxBytes)
					}
					got = append(got, b.ID())
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if g := strings.Join(got, " "); g != tt.want {
					t.Errorf("pieces %s, want %s", g, tt.want)
				}
			}
		})
	}
}

package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
)

// poisonInput returns records over a few keys with the given bad values mixed
// in at fixed places, the running counts of the good records ("key=n"), and
// the records that must end in the DLQ ("key/value").
func poisonInput(n int, bad ...string) (recs []memory.Record, want, dead []string) {
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("k%d", i%5)
		v := "x"
		if i%37 == 3 {
			v = bad[(i/37)%len(bad)]
		}
		recs = append(recs, memory.Record{Key: k, Value: v, Timestamp: int64(i)})
		if v == "poison" || v == "poison-anon" {
			dead = append(dead, k+"/"+v)
			continue
		}
		counts[k]++
		want = append(want, fmt.Sprintf("%s=%d", k, counts[k]))
	}
	sort.Strings(want)
	sort.Strings(dead)
	return recs, want, dead
}

// countJob is one keyed count operator between a source and a sink.
func countJob(src runtime.Source, sink runtime.Sink, policy runtime.FailurePolicy) *runtime.Job {
	return &runtime.Job{
		Name:       "count",
		Checkpoint: runtime.CheckpointConfig{Interval: 5 * time.Millisecond},
		Restart:    runtime.RestartConfig{Attempts: 2, Delay: time.Millisecond},
		Sources:    []*runtime.SourceNode{{Name: "in", Parallelism: 1, Source: src}},
		Operators: []*runtime.OperatorNode{
			{Name: "count", Parallelism: 2, Inputs: []runtime.Input{{From: "in", Partition: runtime.KeyBy}}, Factory: runtime.NewTestCount(), Module: "sha256:test", OnFailure: policy},
		},
		Sinks: []*runtime.SinkNode{{Name: "out", Parallelism: 1, Inputs: []runtime.Input{{From: "count", Partition: runtime.Rebalance}}, Sink: sink}},
	}
}

func deadKeys(s *runtime.DLQSnapshot) []string {
	var out []string
	for _, d := range s.Entries {
		out = append(out, string(d.Key)+"/"+string(d.Value))
	}
	sort.Strings(out)
	return out
}

// TestFailurePolicyDLQ: the poison records (named by entry or not, so both
// the split at the entry and the bisection run) end in the DLQ with their
// context, the others are counted exactly once: the state writes of the
// failed tries of a batch were discarded.
func TestFailurePolicyDLQ(t *testing.T) {
	recs, want, dead := poisonInput(2000, "poison", "poison-anon", "flaky")
	sink, store := memory.NewSink(), memory.NewStore()
	job := countJob(memory.NewSource(recs), sink, runtime.FailurePolicy{Action: runtime.FailDLQ, Retries: 2, Backoff: time.Millisecond})
	x, err := runtime.Start(context.Background(), job, runtime.Config{Store: store, State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Wait()
	if err != nil || !res.Finished || res.Restarts != 0 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("committed output differs: got %d lines, want %d\n%s", len(got), len(want), diffHead(got, want))
	}
	snap, err := runtime.ReadDLQ(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	if got := deadKeys(snap); strings.Join(got, ",") != strings.Join(dead, ",") {
		t.Fatalf("DLQ holds %v, want %v", got, dead)
	}
	if live := deadKeys(x.DeadLetters()); strings.Join(live, ",") != strings.Join(dead, ",") {
		t.Errorf("Execution.DeadLetters holds %v, want %v", live, dead)
	}
	d := snap.Entries[0]
	if d.ID != 1 || d.Job != "count" || d.Operator != "count" || d.Module != "sha256:test" || d.Tries != 3 || d.Attempt != 1 ||
		!strings.Contains(d.Position, `source "in" split "0" record #`) || d.Error != "poison record" || d.TrackingID == 0 || d.Checkpoint == 0 {
		t.Errorf("first dead letter: %+v", d)
	}
	if len(snap.Audit) == 0 || snap.Audit[0].Kind != runtime.DLQAdded {
		t.Errorf("audit: %+v", snap.Audit)
	}
}

// TestFailurePolicyStop: a poison record under stop fails the job at once,
// without restarts, naming the record's position; with retries it is tried
// that often first.
func TestFailurePolicyStop(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy runtime.FailurePolicy
		tries  int
	}{
		{"default", runtime.FailurePolicy{}, 1},
		{"retries", runtime.FailurePolicy{Retries: 2, Backoff: time.Millisecond}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, _, _ := poisonInput(40, "poison") // one poison record: #3
			res, err := runtime.Run(context.Background(), countJob(memory.NewSource(recs), memory.NewSink(), tc.policy),
				runtime.Config{Store: memory.NewStore(), State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)})
			var rf *runtime.RecordFailedError
			if !errors.As(err, &rf) {
				t.Fatalf("error %v (%T) is not a *RecordFailedError", err, err)
			}
			if res.Restarts != 0 || rf.Tries != tc.tries {
				t.Errorf("restarts %d, tries %d; want 0, %d", res.Restarts, rf.Tries, tc.tries)
			}
			for _, w := range []string{`operator "count"`, `key "k3"`, `source "in" split "0" record #3`, "poison record", "policy stop"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestFailurePolicyRetriesSucceed: records that fail twice and then succeed
// are counted once with two retries, and nothing is dead-lettered.
func TestFailurePolicyRetriesSucceed(t *testing.T) {
	recs, want, _ := poisonInput(500, "flaky")
	sink, store := memory.NewSink(), memory.NewStore()
	res, err := runtime.Run(context.Background(), countJob(memory.NewSource(recs), sink, runtime.FailurePolicy{Retries: 2, Backoff: time.Millisecond}),
		runtime.Config{Store: store, State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil || !res.Finished {
		t.Fatalf("run: %+v, %v", res, err)
	}
	if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("committed output differs: got %d lines, want %d\n%s", len(got), len(want), diffHead(got, want))
	}
	if snap, err := runtime.ReadDLQ(context.Background(), store); err != nil || len(snap.Entries) != 0 {
		t.Fatalf("DLQ: %v, %v", snap, err)
	}
}

// diffHead shows the first line where got and want differ.
func diffHead(got, want []string) string {
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("line %d: got %q, want %q", i, g, w)
		}
	}
	return ""
}

// TestDLQEditResubmitDrop runs a job that dead-letters its poison records,
// then through Execution.ChangeDLQ: resubmits one unchanged (it fails again
// and comes back with attempt 2), drops it, edits the others' values and
// resubmits them: each is then counted exactly once, and the audit trail has
// every change.
func TestDLQEditResubmitDrop(t *testing.T) {
	ctx := context.Background()
	recs, _, dead := poisonInput(400, "poison")
	sink, store := memory.NewSink(), memory.NewStore()
	job := countJob(memory.NewSource(recs).Unbounded(), sink, runtime.FailurePolicy{Action: runtime.FailDLQ})
	x, err := runtime.Start(ctx, job, runtime.Config{Store: store, State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(func() bool { s := x.DeadLetters(); return s != nil && len(s.Entries) == len(dead) })
	ids := func() []int64 {
		var out []int64
		for _, d := range x.DeadLetters().Entries {
			out = append(out, d.ID)
		}
		return out
	}
	first := ids()
	change := func(req runtime.DLQRequest) {
		t.Helper()
		if _, err := x.ChangeDLQ(ctx, req); err != nil {
			t.Fatalf("%s %v: %v", req.Kind, req.IDs, err)
		}
	}
	// Unchanged, the record fails again: a new entry with the next attempt.
	change(runtime.DLQRequest{Kind: runtime.DLQResubmit, IDs: first[:1], Note: "retry as is"})
	waitFor(func() bool {
		s := x.DeadLetters()
		_, old := s.Get(first[0])
		return !old && len(s.Entries) == len(dead)
	})
	again := x.DeadLetters().Entries[len(dead)-1]
	if again.Attempt != 2 || again.ID <= first[len(first)-1] {
		t.Fatalf("the resubmitted record came back as %+v", again)
	}
	change(runtime.DLQRequest{Kind: runtime.DLQDrop, IDs: []int64{again.ID}})
	if _, ok := x.DeadLetters().Get(again.ID); ok {
		t.Fatal("dropped entry still listed")
	}
	if _, err := x.ChangeDLQ(ctx, runtime.DLQRequest{Kind: runtime.DLQEdit, IDs: []int64{again.ID}, Value: []byte("x")}); !errors.Is(err, runtime.ErrDLQRequest) {
		t.Fatalf("edit of a dropped entry: %v", err)
	}
	rest := ids()
	for _, id := range rest {
		change(runtime.DLQRequest{Kind: runtime.DLQEdit, IDs: []int64{id}, Value: []byte("fixed")})
	}
	change(runtime.DLQRequest{Kind: runtime.DLQResubmit, IDs: rest})
	waitFor(func() bool { return len(x.DeadLetters().Entries) == 0 })
	x.Stop()
	if _, err := x.Wait(); err != nil {
		t.Fatal(err)
	}
	// Every record but the dropped one is counted once: per key, 1..n.
	counts := map[string]int{}
	for _, r := range recs {
		counts[r.Key]++
	}
	counts[string(again.Key)]--
	var want []string
	for k, n := range counts {
		for i := 1; i <= n; i++ {
			want = append(want, fmt.Sprintf("%s=%d", k, i))
		}
	}
	sort.Strings(want)
	if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("committed output differs: got %d lines, want %d\n%s", len(got), len(want), diffHead(got, want))
	}
	snap, err := runtime.ReadDLQ(ctx, store)
	if err != nil || len(snap.Entries) != 0 {
		t.Fatalf("DLQ after the run: %v, %v", snap, err)
	}
	var kinds []string
	for _, a := range snap.Audit {
		kinds = append(kinds, a.Kind)
	}
	if got := strings.Join(kinds, ","); !strings.HasPrefix(got, "dead-letter") || !strings.Contains(got, "resubmit,") ||
		!strings.Contains(got, "drop") || !strings.Contains(got, "edit") || !strings.HasSuffix(got, "resubmit,resubmitted") {
		t.Errorf("audit trail: %s", got)
	}
}

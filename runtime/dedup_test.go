package runtime_test

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
)

// dupInput returns splits of records keyed by message id, with a known set of
// duplicates (each a repeat of an earlier id of any split), and the ids that
// must come out: every id once.
func dupInput(seed int64, splits, perSplit int) ([][]memory.Record, []string) {
	rng := rand.New(rand.NewSource(seed))
	out := make([][]memory.Record, splits)
	var ids []string
	for i := 0; i < perSplit; i++ {
		for s := range out {
			id := fmt.Sprintf("m%d-%d", s, i)
			if len(ids) > 0 && rng.Intn(3) == 0 {
				id = ids[rng.Intn(len(ids))] // a duplicate
			} else {
				ids = append(ids, id)
			}
			out[s] = append(out[s], memory.Record{Key: id, Value: "v", Timestamp: int64(i)})
		}
	}
	var want []string
	for _, id := range ids {
		want = append(want, id+"=v")
	}
	sort.Strings(want)
	return out, want
}

func dedupJob(src runtime.Source, sink runtime.Sink, p int) *runtime.Job {
	return &runtime.Job{
		Name:       "dedup",
		Checkpoint: runtime.CheckpointConfig{Interval: 5 * time.Millisecond},
		Sources:    []*runtime.SourceNode{{Name: "in", Parallelism: 2, Source: src}},
		Operators: []*runtime.OperatorNode{
			{Name: "dedup", Parallelism: p, Inputs: []runtime.Input{{From: "in", Partition: runtime.KeyBy}}, Factory: runtime.NewDedup(runtime.DedupConfig{TTL: time.Hour})},
		},
		Sinks: []*runtime.SinkNode{{Name: "out", Parallelism: 1, Inputs: []runtime.Input{{From: "dedup", Partition: runtime.Rebalance}}, Sink: sink}},
	}
}

// TestDedupAcrossRescale: a job stopped half way (a final checkpoint) and
// restored at another parallelism outputs, over both runs, every id once:
// the ids seen before the stop moved with their key groups.
func TestDedupAcrossRescale(t *testing.T) {
	ctx := context.Background()
	splits, want := dupInput(7, 3, 2000)
	half := make([][]memory.Record, len(splits))
	for i, s := range splits {
		half[i] = s[:len(s)/2]
	}
	store, sink := memory.NewStore(), memory.NewSink()
	cfg := func() runtime.Config {
		return runtime.Config{Store: store, State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)}
	}
	x, err := runtime.Start(ctx, dedupJob(memory.NewSource(half...).Unbounded(), sink, 2), cfg())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(func() bool { return x.Stats().Records()["in"] == int64(3*1000) })
	x.Stop()
	if _, err := x.Wait(); err != nil {
		t.Fatal(err)
	}
	res, err := runtime.Run(ctx, dedupJob(memory.NewSource(splits...), sink, 5), cfg())
	if err != nil || !res.Finished {
		t.Fatalf("restore at parallelism 5: %+v, %v", res, err)
	}
	if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("committed output is not every id once: got %d lines, want %d\n%s", len(got), len(want), diffHead(got, want))
	}
}

// TestDedupEventTimeTTL: an id is dropped within its TTL in event time and
// passes again after it; expired ids are deleted by the watermark's timers.
func TestDedupEventTimeTTL(t *testing.T) {
	recs := []memory.Record{
		{Key: "a", Value: "1", Timestamp: 0},
		{Key: "a", Value: "2", Timestamp: 50},  // within 100ms: dropped
		{Key: "b", Value: "3", Timestamp: 60},  //
		{Key: "a", Value: "4", Timestamp: 200}, // after: passes
		{Key: "a", Value: "5", Timestamp: 299}, // within the new TTL: dropped
		{Key: "b", Value: "6", Timestamp: 159}, // b's TTL ends at 160: dropped
		{Key: "b", Value: "7", Timestamp: 1000},
	}
	sink := memory.NewSink()
	job := dedupJob(memory.NewSource(recs), sink, 2)
	job.Sources[0].Parallelism = 1
	job.Operators[0].Factory = runtime.NewDedup(runtime.DedupConfig{TTL: 100 * time.Millisecond, EventTime: true})
	res, err := runtime.Run(context.Background(), job, runtime.Config{Store: memory.NewStore(), State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil || !res.Finished {
		t.Fatalf("%+v, %v", res, err)
	}
	if got, want := strings.Join(sink.Committed(), " "), "a=1 a=4 b=3 b=7"; got != want {
		t.Fatalf("committed %q, want %q", got, want)
	}
}

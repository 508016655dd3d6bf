package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
)

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(discard{}, nil))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// wordLines returns n lines of words drawn from a small vocabulary, and the
// expected running-count output ("word=k" for k = 1..count(word)).
func wordLines(n int) ([]memory.Record, []string) {
	vocab := strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa")
	var recs []memory.Record
	counts := map[string]int{}
	var want []string
	for i := 0; i < n; i++ {
		var words []string
		for j := 0; j <= i%4; j++ {
			w := vocab[(i*7+j*3)%len(vocab)]
			words = append(words, w)
			counts[w]++
			want = append(want, fmt.Sprintf("%s=%d", w, counts[w]))
		}
		recs = append(recs, memory.Record{Value: strings.Join(words, " "), Timestamp: int64(i)})
	}
	sort.Strings(want)
	return recs, want
}

func TestWordCountExactlyOnce(t *testing.T) {
	recs, want := wordLines(5000)
	sink := memory.NewSink()
	job := &runtime.Job{
		Name:       "wordcount",
		Checkpoint: runtime.CheckpointConfig{Interval: 10 * time.Millisecond},
		Sources:    []*runtime.SourceNode{{Name: "lines", Parallelism: 2, Source: memory.NewSource(recs[:2000], recs[2000:3500], recs[3500:])}},
		Operators: []*runtime.OperatorNode{
			{Name: "split", Parallelism: 2, Inputs: []runtime.Input{{From: "lines"}}, Factory: runtime.NewTestSplit()},
			{Name: "count", Parallelism: 3, Inputs: []runtime.Input{{From: "split", Partition: runtime.KeyBy}}, Factory: runtime.NewTestCount()},
		},
		Sinks: []*runtime.SinkNode{{Name: "out", Parallelism: 2, Inputs: []runtime.Input{{From: "count", Partition: runtime.Rebalance}}, Sink: sink}},
	}
	store := memory.NewStore()
	res, err := runtime.Run(context.Background(), job, runtime.Config{Store: store, State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Finished {
		t.Fatalf("result %+v: not finished", res)
	}
	got := sink.Committed()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("committed output differs: got %d lines, want %d", len(got), len(want))
	}
	// A second run on the same store finds the job finished and commits nothing new.
	res2, err := runtime.Run(context.Background(), job, runtime.Config{Store: store, State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil || !res2.Finished {
		t.Fatalf("rerun: %+v, %v", res2, err)
	}
	if len(sink.Committed()) != len(want) {
		t.Fatalf("rerun changed the output: %d lines", len(sink.Committed()))
	}
}

func wordJob(src runtime.Source, sink runtime.Sink, countP int) *runtime.Job {
	return &runtime.Job{
		Name:       "wordcount",
		Checkpoint: runtime.CheckpointConfig{Interval: 5 * time.Millisecond},
		Restart:    runtime.RestartConfig{Attempts: 2, Delay: time.Millisecond},
		Sources:    []*runtime.SourceNode{{Name: "lines", Parallelism: 2, Source: src}},
		Operators: []*runtime.OperatorNode{
			{Name: "split", Parallelism: 2, Inputs: []runtime.Input{{From: "lines"}}, Factory: runtime.NewTestSplit()},
			{Name: "count", Parallelism: countP, Inputs: []runtime.Input{{From: "split", Partition: runtime.KeyBy}}, Factory: runtime.NewTestCount()},
		},
		Sinks: []*runtime.SinkNode{{Name: "out", Parallelism: 1, Inputs: []runtime.Input{{From: "count", Partition: runtime.Rebalance}}, Sink: sink}},
	}
}

// waitFor polls cond until it holds (no deadline: the test binary's timeout is
// the bound).
func waitFor(cond func() bool) {
	for !cond() {
		time.Sleep(time.Millisecond)
	}
}

// TestStopAndSavepointRescale stops an unbounded job gracefully, turns its last
// checkpoint into a savepoint, and resumes from the savepoint with another
// parallelism and more input: the two runs together commit exactly the output
// of one uninterrupted run, and the counts carry over in the state.
func TestStopAndSavepointRescale(t *testing.T) {
	ctx := context.Background()
	recs, want := wordLines(3000)
	half := [][]memory.Record{recs[:700], recs[1500:2300]}
	full := [][]memory.Record{recs[:1500], recs[1500:]}

	store, sink1 := memory.NewStore(), memory.NewSink()
	cfg := runtime.Config{Store: store, State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)}
	x, err := runtime.Start(ctx, wordJob(memory.NewSource(half...).Unbounded(), sink1, 3), cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(func() bool { return x.Stats().Records()["lines"] == 1500 })
	x.Stop()
	res, err := x.Wait()
	if err != nil || res.Finished {
		t.Fatalf("stop: %+v, %v", res, err)
	}
	m, err := runtime.LatestCheckpoint(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	sp := memory.NewStore()
	if err := runtime.WriteSavepoint(ctx, m, store, memory.StateFactory{}, t.TempDir(), sp); err != nil {
		t.Fatal(err)
	}

	sink2 := memory.NewSink()
	cfg2 := runtime.Config{Store: memory.NewStore(), Savepoint: sp, State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)}
	res, err = runtime.Run(ctx, wordJob(memory.NewSource(full...), sink2, 5), cfg2)
	if err != nil || !res.Finished {
		t.Fatalf("resume from savepoint: %+v, %v", res, err)
	}
	got := append(sink1.Committed(), sink2.Committed()...)
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output of the two runs differs from one run: got %d lines, want %d", len(got), len(want))
	}
}

// TestPoisonRecordFailsWithPosition checks that a failing operator fails the
// job at once (the default policy is stop: a restart would fail on the same
// record again), with where the record came from.
func TestPoisonRecordFailsWithPosition(t *testing.T) {
	recs := []memory.Record{{Value: "a b"}, {Value: "c"}, {Value: "poison"}, {Value: "d"}}
	sink := memory.NewSink()
	job := wordJob(memory.NewSource(recs), sink, 1)
	job.Operators[0] = &runtime.OperatorNode{Name: "split", Parallelism: 2, Inputs: []runtime.Input{{From: "lines"}}, Factory: runtime.NewTestCount()}
	job.Operators[1].Inputs[0].Partition = runtime.KeyBy
	job.Sources[0].Parallelism = 2
	job.Operators[0].Inputs[0].Partition = runtime.KeyBy
	res, err := runtime.Run(context.Background(), job, runtime.Config{Store: memory.NewStore(), State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)})
	if err == nil {
		t.Fatal("want an error")
	}
	if res.Restarts != 0 {
		t.Errorf("restarts = %d, want 0", res.Restarts)
	}
	msg := err.Error()
	for _, want := range []string{`operator "split"`, `entry`, `source "lines" split "0" record #2`, "poison record", "policy stop"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	var oe *runtime.OperatorError
	if !errors.As(err, &oe) {
		t.Fatalf("error is not an *OperatorError: %T", err)
	}
}

// lostSink is a memory.Sink whose commits of checkpoint 2 and later fail
// with runtime.ErrOutputLost, as a sink's do whose store lost a complete
// checkpoint's output.
type lostSink struct {
	*memory.Sink
	recovers atomic.Int64
}

func (s *lostSink) Commit(ctx context.Context, checkpointID int64, committables [][]byte) error {
	if checkpointID >= 2 {
		return fmt.Errorf("the upload of checkpoint %d is gone: %w", checkpointID, runtime.ErrOutputLost)
	}
	return s.Sink.Commit(ctx, checkpointID, committables)
}

func (s *lostSink) Recover(ctx context.Context, checkpointID int64, committables [][]byte) error {
	s.recovers.Add(1)
	return s.Sink.Recover(ctx, checkpointID, committables)
}

// TestOutputLostFailsWithoutRestarts checks that a sink commit failing with
// runtime.ErrOutputLost fails the job at once, although its restart policy
// allows restarts: a restart would recover the same checkpoint into the same
// error (interfaces.go, ErrOutputLost).
func TestOutputLostFailsWithoutRestarts(t *testing.T) {
	recs, _ := wordLines(5000)
	sink := &lostSink{Sink: memory.NewSink()}
	job := wordJob(memory.NewSource(recs).Unbounded(), sink, 2)
	job.Restart = runtime.RestartConfig{Attempts: 100, Delay: time.Millisecond}
	res, err := runtime.Run(context.Background(), job, runtime.Config{Store: memory.NewStore(), State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)})
	if !errors.Is(err, runtime.ErrOutputLost) {
		t.Fatalf("err = %v, want one that wraps runtime.ErrOutputLost", err)
	}
	if res.Restarts != 0 || sink.recovers.Load() != 1 {
		t.Errorf("restarts = %d, Recover calls = %d; want 0 and 1", res.Restarts, sink.recovers.Load())
	}
	for _, want := range []string{`job "wordcount" failed without restarts`, `sink "out": commit checkpoint 2`, "the upload of checkpoint 2 is gone"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// closingSink counts its Close calls and its commits after one.
type closingSink struct {
	*memory.Sink
	closes, commitsAfterClose atomic.Int64
}

func (s *closingSink) Close() error { s.closes.Add(1); return nil }

func (s *closingSink) Commit(ctx context.Context, checkpointID int64, committables [][]byte) error {
	if s.closes.Load() > 0 {
		s.commitsAfterClose.Add(1)
	}
	return s.Sink.Commit(ctx, checkpointID, committables)
}

// TestJobClosedAtTheEnd checks that the runtime closes a sink that is an
// io.Closer once per run, after its last commit, and that the same Job runs
// again after it (Close leaves a sink usable).
func TestJobClosedAtTheEnd(t *testing.T) {
	recs, _ := wordLines(3000)
	sink := &closingSink{Sink: memory.NewSink()}
	cfg := runtime.Config{Store: memory.NewStore(), State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)}
	job := wordJob(memory.NewSource(recs), sink, 2)
	if _, err := runtime.Run(context.Background(), job, cfg); err != nil {
		t.Fatal(err)
	}
	if n := sink.closes.Load(); n != 1 {
		t.Fatalf("Close calls after a finished run = %d, want 1", n)
	}
	if n := sink.commitsAfterClose.Load(); n != 0 {
		t.Fatalf("%d commits after Close", n)
	}
	cfg.Store, cfg.WorkDir = memory.NewStore(), t.TempDir()
	if _, err := runtime.Run(context.Background(), job, cfg); err != nil {
		t.Fatalf("the same job, run again after Close: %v", err)
	}
	if n := sink.closes.Load(); n != 2 {
		t.Fatalf("Close calls after two runs = %d, want 2", n)
	}
}

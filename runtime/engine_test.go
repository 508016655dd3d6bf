package runtime_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
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

package windowcountrust_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/plugins/datagen"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/jobspec"
	"github.com/weirstream/weir/runtime/memory"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// windowModule builds the Rust operator (window/) with rustc
// (wasmbuild.Rust) and loads it into a host engine closed when t ends.
func windowModule(t *testing.T) *host.Module {
	t.Helper()
	ctx := context.Background()
	engine, err := host.NewEngine(ctx, host.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close(ctx) })
	wasm, err := os.ReadFile(wasmbuild.MustRust(t, "window"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := engine.Load(ctx, "rust-window", wasm, host.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// wasmOperator adapts a host operator to weirtest.Processor.
type wasmOperator struct{ op runtime.Operator }

func (w wasmOperator) Process(batch []byte, h weir.NativeHost) error {
	return w.op.Process(context.Background(), batch, h)
}

// TestWindow is the Go example's TestWindow against the Rust build.
func TestWindow(t *testing.T) {
	op, err := windowModule(t).NewOperator(context.Background(), runtime.OperatorInfo{Name: "window", Keyed: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	h := weirtest.NewProcessor(t, wasmOperator{op})
	min := int64(time.Minute / time.Millisecond)
	for _, ts := range []int64{0, 59_999, 60_000, 61_000, 130_000} {
		h.Process(weir.Record{Key: []byte("u1"), Timestamp: ts})
	}
	h.Process(weir.Record{Key: []byte("u2"), Timestamp: 70_000})
	h.AdvanceWatermark(2*min - 1) // closes the first two minutes
	var got []string
	for _, r := range h.Output(0) {
		if r.Timestamp%min != min-1 {
			t.Errorf("result %q has timestamp %d, want the last ms of its minute", r.Value, r.Timestamp)
		}
		got = append(got, string(r.Key)+" "+string(r.Value))
	}
	sort.Strings(got)
	want := []string{"u1 1970-01-01T00:00:00Z 2", "u1 1970-01-01T00:01:00Z 2", "u2 1970-01-01T00:01:00Z 1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

const genOpts = `{"seed": 3, "count": 50000, "splits": 3, "keys": 20, "valueBytes": 16, "timeStep": 10}`

// reference computes the windowed counts of the generator's records
// directly, as the Go example's test does.
func reference(t *testing.T, src *datagen.Source) []string {
	counts := map[string]int{}
	for i := uint64(0); i < 50000; i++ {
		key, _, ts := src.Record(i)
		start := ts - ts%60_000
		counts[fmt.Sprintf("%s=%s", key, time.UnixMilli(start).UTC().Format(time.RFC3339))]++
	}
	var out []string
	for k, n := range counts {
		out = append(out, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(out)
	return out
}

// TestWindowCountJob runs the Rust operator through the engine over the
// generator (parallel subtasks, keyed window state, timers, checkpoints) and
// checks the committed counts against the reference; and once more with the
// Go build of the operator, which must commit the same lines.
func TestWindowCountJob(t *testing.T) {
	s, err := datagen.NewSource(json.RawMessage(genOpts), "")
	if err != nil {
		t.Fatal(err)
	}
	want := reference(t, s.(*datagen.Source))
	for _, tc := range []struct {
		name string
		op   func(t *testing.T) runtime.OperatorFactory
	}{
		{"rust", func(t *testing.T) runtime.OperatorFactory { return windowModule(t) }},
		{"go", func(t *testing.T) runtime.OperatorFactory { return examplerun.Wasm(t, "../windowcount/window/wasm") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := memory.NewSink()
			examplerun.Run(t, &runtime.Job{
				Name:    "windowcount-rust",
				Sources: []*runtime.SourceNode{{Name: "events", Parallelism: 2, Source: s}},
				Operators: []*runtime.OperatorNode{
					{Name: "window", Parallelism: 3, Inputs: []runtime.Input{{From: "events", Partition: runtime.KeyBy}}, Factory: tc.op(t)},
				},
				Sinks: []*runtime.SinkNode{{Name: "out", Parallelism: 1, Inputs: []runtime.Input{{From: "window", Partition: runtime.Rebalance}}, Sink: sink}},
			})
			if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("committed %d windows, want %d:\ngot  %.300q\nwant %.300q", len(got), len(want), got, want)
			}
		})
	}
}

// TestJobSpec checks that job.yaml is a valid job spec that runs the module.
func TestJobSpec(t *testing.T) {
	data, err := os.ReadFile("job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := jobspec.Parse(data, "job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name() != "windowcount-rust" {
		t.Fatalf("job name %q, want windowcount-rust", spec.Name())
	}
	if !strings.Contains(string(data), "module: window.wasm") {
		t.Error("job.yaml does not run window.wasm")
	}
}

package windowcountrust_test

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/examples/windowcount"
	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/plugins/datagen"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/jobspec"
	"github.com/weirstream/weir/runtime/memory"
	weir "github.com/weirstream/weir/sdk/go"
)

// TestWindow is the Go example's TestWindow against the Rust build.
func TestWindow(t *testing.T) {
	h := examplerun.Harness(t, examplerun.Rust(t, "window"), runtime.OperatorInfo{Name: "window", Keyed: true})
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

// TestWindowCountJob runs the Rust operator through the engine over the
// generator (parallel subtasks, keyed window state, timers, checkpoints) and
// checks the committed counts against the Go example's reference; and once
// more with the Go build of the operator, which must commit the same lines.
func TestWindowCountJob(t *testing.T) {
	s, err := datagen.NewSource(json.RawMessage(genOpts), "")
	if err != nil {
		t.Fatal(err)
	}
	want := windowcount.Reference(s.(*datagen.Source), 50000) // the count of genOpts
	for _, tc := range []struct {
		name string
		op   func(t *testing.T) runtime.OperatorFactory
	}{
		{"rust", func(t *testing.T) runtime.OperatorFactory { return examplerun.Rust(t, "window") }},
		{"go", func(t *testing.T) runtime.OperatorFactory { return examplerun.Wasm(t, "../windowcount/window/wasm") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := memory.NewSink()
			examplerun.Run(t, windowcount.Job("windowcount-rust", s, tc.op(t), sink))
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

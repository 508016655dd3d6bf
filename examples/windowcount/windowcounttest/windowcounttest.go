// Package windowcounttest holds the checks that every build of the
// windowed-count operator passes, whatever language it is written in
// (examples/windowcount, examples/windowcount-rust).
package windowcounttest

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/examples/windowcount"
	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/plugins/datagen"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// Window checks the operator behind h (keyed): per-key counts in one-minute
// tumbling windows, emitted when the watermark closes a window, each stamped
// with the last millisecond of its minute.
func Window(t *testing.T, h *weirtest.Harness) {
	t.Helper()
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

// genOpts is the generator of Job; genRecords is its count.
const (
	genOpts    = `{"seed": 3, "count": 50000, "splits": 3, "keys": 20, "valueBytes": 16, "timeStep": 10}`
	genRecords = 50000
)

// Build is one build of the operator for Job.
type Build struct {
	Name string
	Op   func(t *testing.T) runtime.OperatorFactory
}

// Job runs the windowed-count job named job with each build through the
// engine over the generator (parallel subtasks, keyed window state, timers,
// checkpoints) and checks the committed counts against the reference.
func Job(t *testing.T, job string, builds ...Build) {
	t.Helper()
	s, err := datagen.NewSource(json.RawMessage(genOpts), "")
	if err != nil {
		t.Fatal(err)
	}
	want := windowcount.Reference(s.(*datagen.Source), genRecords)
	for _, b := range builds {
		t.Run(b.Name, func(t *testing.T) {
			sink := memory.NewSink()
			examplerun.Run(t, windowcount.Job(job, s, b.Op(t), sink))
			if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("committed %d windows, want %d:\ngot  %.300q\nwant %.300q", len(got), len(want), got, want)
			}
		})
	}
}

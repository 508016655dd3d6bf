package windowcount_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/examples/windowcount"
	"github.com/weirstream/weir/examples/windowcount/window"
	"github.com/weirstream/weir/host/native"
	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/plugins/datagen"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

func TestWindow(t *testing.T) {
	h := weirtest.New(t, window.Operator, nil)
	min := int64(time.Minute / time.Millisecond)
	for _, ts := range []int64{0, 59_999, 60_000, 61_000, 130_000} {
		h.Process(weir.Record{Key: []byte("u1"), Timestamp: ts})
	}
	h.Process(weir.Record{Key: []byte("u2"), Timestamp: 70_000})
	h.AdvanceWatermark(2*min - 1) // closes the first two minutes
	var got []string
	for _, r := range h.Output(0) {
		got = append(got, string(r.Key)+" "+string(r.Value))
	}
	sort.Strings(got)
	want := []string{"u1 1970-01-01T00:00:00Z 2", "u1 1970-01-01T00:01:00Z 2", "u2 1970-01-01T00:01:00Z 1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

const genOpts = `{"seed": 3, "count": 50000, "splits": 3, "keys": 20, "valueBytes": 16, "timeStep": 10}`

func TestWindowCountJob(t *testing.T) {
	s, err := datagen.NewSource(json.RawMessage(genOpts), "")
	if err != nil {
		t.Fatal(err)
	}
	want := windowcount.Reference(s.(*datagen.Source), 50000) // the count of genOpts
	for _, tc := range []struct {
		name string
		op   runtime.OperatorFactory
	}{
		{"wasm", examplerun.Wasm(t, "window/wasm")},
		{"native", native.Factory(window.Operator)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := memory.NewSink()
			examplerun.Run(t, windowcount.Job("windowcount", s, tc.op, sink))
			if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("committed %d windows, want %d:\ngot  %.300q\nwant %.300q", len(got), len(want), got, want)
			}
		})
	}
}

package wordcount_test

import (
	"os"
	"strings"
	"testing"

	"github.com/weirstream/weir/examples/wordcount"
	"github.com/weirstream/weir/examples/wordcount/count"
	"github.com/weirstream/weir/examples/wordcount/split"
	"github.com/weirstream/weir/host/native"
	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

func TestSplit(t *testing.T) {
	h := weirtest.New(t, split.Operator, nil, weirtest.Unkeyed())
	h.Process(weir.Record{Value: []byte("The weir's CREST, and -- the pool!")})
	var got []string
	for _, r := range h.Output(0) {
		got = append(got, string(r.Key))
	}
	if want := "the weir's crest and the pool"; strings.Join(got, " ") != want {
		t.Fatalf("words %q, want %q", got, want)
	}
}

func TestCountFinal(t *testing.T) {
	h := weirtest.New(t, count.Operator, nil)
	for _, w := range []string{"b", "a", "b"} {
		h.Process(weir.Record{Key: []byte(w), Timestamp: 1})
	}
	if n := len(h.Output(0)); n != 0 {
		t.Fatalf("%d records before the end of input, want none", n)
	}
	h.AdvanceWatermark(1<<63 - 1) // the end of input
	if got := weirtest.FormatRecords(h.Output(0)); !strings.Contains(got, `"a"`) || !strings.Contains(got, `"b"`) {
		t.Fatalf("output %s", got)
	}
	counts := map[string]string{}
	for _, r := range h.Output(0) {
		counts[string(r.Key)] = string(r.Value)
	}
	if counts["a"] != "1" || counts["b"] != "2" {
		t.Fatalf("counts %v, want a=1 b=2", counts)
	}
}

func TestCountRunning(t *testing.T) {
	h := weirtest.New(t, count.Operator, []byte(`{"mode": "running"}`))
	h.Process(weir.Record{Key: []byte("x")}, weir.Record{Key: []byte("x")})
	if out := h.Output(0); len(out) != 2 || string(out[1].Value) != "2" {
		t.Fatalf("output %s", weirtest.FormatRecords(out))
	}
}

func TestCountBadConfig(t *testing.T) {
	if _, err := weir.NewNative(count.Operator, []byte(`{"mode": "sometimes"}`)); err == nil || !strings.Contains(err.Error(), `mode "sometimes"`) {
		t.Fatalf("got %v, want an error naming the mode", err)
	}
}

// TestWordCountJob runs the example through the engine, as Wasm through the real
// host and as the native build, and checks both against the reference.
func TestWordCountJob(t *testing.T) {
	input, err := os.ReadFile("input.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := wordcount.Reference(input)
	for _, tc := range []struct {
		name           string
		split, counter runtime.OperatorFactory
	}{
		{"wasm", examplerun.Wasm(t, "split/wasm"), examplerun.Wasm(t, "count/wasm")},
		{"native", native.Factory(split.Operator), native.Factory(count.Operator)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := memory.NewSink()
			examplerun.Run(t, wordcount.Job("wordcount", memory.NewSource(wordcount.Lines(input)), tc.split, tc.counter, sink))
			if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("committed %d counts, want %d:\ngot  %.300q\nwant %.300q", len(got), len(want), got, want)
			}
		})
	}
}

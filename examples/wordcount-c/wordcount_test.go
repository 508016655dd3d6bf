package wordcountc_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/weirstream/weir/examples/wordcount"
	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/jobspec"
	"github.com/weirstream/weir/runtime/memory"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

const inputFile = "../wordcount/input.txt"

// harness drives an instance of the operator src with weirtest.
func harness(t *testing.T, src string, keyed bool, config string) *weirtest.Harness {
	t.Helper()
	return examplerun.Harness(t, examplerun.C(t, src), runtime.OperatorInfo{Name: src, Keyed: keyed, Config: []byte(config)})
}

func TestSplit(t *testing.T) {
	h := harness(t, "split/split.c", false, "")
	long := strings.Repeat("x", 300)
	h.Process(weir.Record{Value: []byte("The weir's CREST, and -- the pool! " + long), Timestamp: 7, TrackingID: 9})
	var got []string
	for _, r := range h.Output(0) {
		if r.Timestamp != 7 || r.TrackingID != 9 || len(r.Value) != 0 {
			t.Fatalf("word %q: timestamp %d, tracking id %d, value %q; want the line's 7 and 9 and no value", r.Key, r.Timestamp, r.TrackingID, r.Value)
		}
		got = append(got, string(r.Key))
	}
	if want := "the weir's crest and the pool " + long[:256]; strings.Join(got, " ") != want {
		t.Fatalf("words %q, want %q", got, want)
	}
}

func TestCountFinal(t *testing.T) {
	h := harness(t, "count/count.c", true, "")
	for _, w := range []string{"b", "a", "b"} {
		h.Process(weir.Record{Key: []byte(w), Timestamp: 1})
	}
	if n := len(h.Output(0)); n != 0 {
		t.Fatalf("%d records before the end of input, want none", n)
	}
	h.AdvanceWatermark(1<<63 - 1) // the end of input
	counts := map[string]string{}
	for _, r := range h.Output(0) {
		counts[string(r.Key)] = string(r.Value)
	}
	if len(counts) != 2 || counts["a"] != "1" || counts["b"] != "2" {
		t.Fatalf("counts %v, want a=1 b=2", counts)
	}
}

func TestCountRunning(t *testing.T) {
	h := harness(t, "count/count.c", true, `{"mode": "running"}`)
	h.Process(weir.Record{Key: []byte("x")}, weir.Record{Key: []byte("x")}, weir.Record{Key: []byte("y")})
	if out := weirtest.FormatRecords(h.Output(0)); len(h.Output(0)) != 3 || string(h.Output(0)[1].Value) != "2" || string(h.Output(0)[2].Value) != "1" {
		t.Fatalf("output %s, want x=1 x=2 y=1", out)
	}
}

func TestCountConfig(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		wantErr      string // "" for a valid configuration
	}{
		{"empty", "", ""},
		{"blank", "  \n", ""},
		{"empty object", "{}", ""},
		{"final", `{"mode":"final"}`, ""},
		{"running", ` { "mode" : "running" } `, ""},
		{"unknown mode", `{"mode": "sometimes"}`, `mode "sometimes": want "final" or "running"`},
		{"other key", `{"mood": "running"}`, `want the key "mode"`},
		{"not an object", `["running"]`, "want a JSON object"},
		{"number", `{"mode": 1}`, "mode must be a string"},
		{"trailing", `{"mode": "running"} x`, `want the key "mode" and nothing else`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := examplerun.C(t, "count/count.c").NewOperator(context.Background(), runtime.OperatorInfo{Name: "count", Keyed: true, Config: []byte(tc.config)})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("config %q: %v", tc.config, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("config %q: got %v, want an error saying %q", tc.config, err, tc.wantErr)
			}
		})
	}
}

// TestWordCountJob runs the C operators through the engine (parallel
// subtasks, keyed state, checkpoints, the end-of-input timer) and checks the
// committed counts against the reference; and once more with the Go build of
// count after the C split, since operators of different languages share one
// record format.
func TestWordCountJob(t *testing.T) {
	input, err := os.ReadFile(inputFile)
	if err != nil {
		t.Fatal(err)
	}
	want := wordcount.Reference(input)
	for _, tc := range []struct {
		name         string
		split, count func(t *testing.T) runtime.OperatorFactory
	}{
		{"c", c("split/split.c"), c("count/count.c")},
		{"c split, go count", c("split/split.c"), func(t *testing.T) runtime.OperatorFactory { return examplerun.Wasm(t, "../wordcount/count/wasm") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := memory.NewSink()
			examplerun.Run(t, wordcount.Job("wordcount-c", memory.NewSource(wordcount.Lines(input)), tc.split(t), tc.count(t), sink))
			if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("committed %d counts, want %d:\ngot  %.300q\nwant %.300q", len(got), len(want), got, want)
			}
		})
	}
}

func c(src string) func(t *testing.T) runtime.OperatorFactory {
	return func(t *testing.T) runtime.OperatorFactory { return examplerun.C(t, src) }
}

// TestJobSpec checks that job.yaml is a valid job spec.
func TestJobSpec(t *testing.T) {
	data, err := os.ReadFile("job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := jobspec.Parse(data, "job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name() != "wordcount-c" {
		t.Fatalf("job name %q, want wordcount-c", spec.Name())
	}
}

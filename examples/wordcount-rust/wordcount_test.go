package wordcountrust_test

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

// inputFile is the Go example's input, which job.yaml reads too.
const inputFile = "../wordcount/input.txt"

// harness drives an instance of the operator dir with weirtest.
func harness(t *testing.T, dir string, keyed bool, config string) *weirtest.Harness {
	t.Helper()
	return examplerun.Harness(t, examplerun.Rust(t, dir), runtime.OperatorInfo{Name: dir, Keyed: keyed, Config: []byte(config)})
}

func TestSplit(t *testing.T) {
	h := harness(t, "split", false, "")
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
	h := harness(t, "count", true, "")
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
	h := harness(t, "count", true, `{"mode": "running"}`)
	h.Process(weir.Record{Key: []byte("x")}, weir.Record{Key: []byte("x")}, weir.Record{Key: []byte("y")})
	var got []string
	for _, r := range h.Output(0) {
		got = append(got, string(r.Key)+"="+string(r.Value))
	}
	if strings.Join(got, " ") != "x=1 x=2 y=1" {
		t.Fatalf("output %q, want x=1 x=2 y=1", got)
	}
}

func TestCountConfig(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		wantErr      string // "" for a valid configuration
	}{
		{"empty", "", ""},
		{"empty object", "{}", ""},
		{"final", `{"mode":"final"}`, ""},
		{"running", ` { "mode" : "running" } `, ""},
		{"other key", `{"mood": "running"}`, ""},
		{"unknown mode", `{"mode": "sometimes"}`, `mode "sometimes": want "final" or "running"`},
		{"not an object", `["running"]`, "want a JSON object"},
		{"number", `{"mode": 1}`, "mode must be a string"},
		{"not JSON", `{"mode": "running"} x`, "count: config: json: text after the value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := examplerun.Rust(t, "count").NewOperator(context.Background(), runtime.OperatorInfo{Name: "count", Keyed: true, Config: []byte(tc.config)})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("config %q: %v", tc.config, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("config %q: got %v, want an error saying %q", tc.config, err, tc.wantErr)
			}
		})
	}
}

// TestWordCountJob runs the Rust operators through the engine (parallel
// subtasks, keyed state, checkpoints, the end-of-input timer) and checks the
// committed counts against the reference, as the Go example's test does; and
// once more with the Go build of count after the Rust split, since operators
// of different languages share one record format.
func TestWordCountJob(t *testing.T) {
	input, err := os.ReadFile(inputFile)
	if err != nil {
		t.Fatal(err)
	}
	want := wordcount.Reference(input)
	rust := func(dir string) func(t *testing.T) runtime.OperatorFactory {
		return func(t *testing.T) runtime.OperatorFactory { return examplerun.Rust(t, dir) }
	}
	for _, tc := range []struct {
		name         string
		split, count func(t *testing.T) runtime.OperatorFactory
	}{
		{"rust", rust("split"), rust("count")},
		{"rust split, go count", rust("split"), func(t *testing.T) runtime.OperatorFactory { return examplerun.Wasm(t, "../wordcount/count/wasm") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := memory.NewSink()
			examplerun.Run(t, wordcount.Job("wordcount-rust", memory.NewSource(wordcount.Lines(input)), tc.split(t), tc.count(t), sink))
			if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("committed %d counts, want %d:\ngot  %.300q\nwant %.300q", len(got), len(want), got, want)
			}
		})
	}
}

// TestJobSpec checks that job.yaml is a valid job spec that runs the two
// modules.
func TestJobSpec(t *testing.T) {
	data, err := os.ReadFile("job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := jobspec.Parse(data, "job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name() != "wordcount-rust" {
		t.Fatalf("job name %q, want wordcount-rust", spec.Name())
	}
	for _, m := range []string{"module: split.wasm", "module: count.wasm", "path: ../wordcount/input.txt"} {
		if !strings.Contains(string(data), m) {
			t.Errorf("job.yaml does not say %q", m)
		}
	}
}

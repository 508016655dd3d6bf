package wordcountrust_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/weirstream/weir/examples/wordcount/wordcounttest"
	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/jobspec"
)

// The Rust operators pass the checks of every word-count build
// (examples/wordcount/wordcounttest).

func TestSplit(t *testing.T) { wordcounttest.Split(t, examplerun.Rust(t, "split")) }

func TestCountFinal(t *testing.T) { wordcounttest.CountFinal(t, examplerun.Rust(t, "count")) }

func TestCountRunning(t *testing.T) { wordcounttest.CountRunning(t, examplerun.Rust(t, "count")) }

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

// TestWordCountJob runs the Rust operators through the engine and checks the
// committed counts against the reference; and once more with the Go build of
// count after the Rust split, since operators of different languages share
// one record format.
func TestWordCountJob(t *testing.T) {
	rust := func(src string) func(t *testing.T) runtime.OperatorFactory {
		return func(t *testing.T) runtime.OperatorFactory { return examplerun.Rust(t, src) }
	}
	wordcounttest.Job(t, "wordcount-rust",
		wordcounttest.Pipeline{Name: "rust", Split: rust("split"), Count: rust("count")},
		wordcounttest.Pipeline{Name: "rust split, go count", Split: rust("split"), Count: wordcounttest.GoCount},
	)
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

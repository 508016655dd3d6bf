package wordcountrust_test

import (
	"testing"

	"github.com/weirstream/weir/examples/wordcount/wordcounttest"
	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/runtime"
)

// The Rust operators pass the checks of every word-count build
// (examples/wordcount/wordcounttest).

func TestSplit(t *testing.T) { wordcounttest.Split(t, examplerun.Rust(t, "split")) }

func TestCountFinal(t *testing.T) { wordcounttest.CountFinal(t, examplerun.Rust(t, "count")) }

func TestCountRunning(t *testing.T) { wordcounttest.CountRunning(t, examplerun.Rust(t, "count")) }

func TestCountConfig(t *testing.T) {
	wordcounttest.CountConfig(t, examplerun.Rust(t, "count"), []wordcounttest.ConfigCase{
		{Name: "empty", Config: ""},
		{Name: "empty object", Config: "{}"},
		{Name: "final", Config: `{"mode":"final"}`},
		{Name: "running", Config: ` { "mode" : "running" } `},
		{Name: "other key", Config: `{"mood": "running"}`},
		{Name: "unknown mode", Config: `{"mode": "sometimes"}`, WantErr: `mode "sometimes": want "final" or "running"`},
		{Name: "not an object", Config: `["running"]`, WantErr: "want a JSON object"},
		{Name: "number", Config: `{"mode": 1}`, WantErr: "mode must be a string"},
		{Name: "not JSON", Config: `{"mode": "running"} x`, WantErr: "count: config: json: text after the value"},
	})
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
	wordcounttest.JobSpec(t, "wordcount-rust", "module: split.wasm", "module: count.wasm", "path: ../wordcount/input.txt")
}

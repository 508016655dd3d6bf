package wordcountc_test

import (
	"testing"

	"github.com/weirstream/weir/examples/wordcount/wordcounttest"
	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/runtime"
)

// The C operators pass the checks of every word-count build
// (examples/wordcount/wordcounttest).

func TestSplit(t *testing.T) { wordcounttest.Split(t, examplerun.C(t, "split/split.c")) }

func TestCountFinal(t *testing.T) { wordcounttest.CountFinal(t, examplerun.C(t, "count/count.c")) }

func TestCountRunning(t *testing.T) { wordcounttest.CountRunning(t, examplerun.C(t, "count/count.c")) }

func TestCountConfig(t *testing.T) {
	wordcounttest.CountConfig(t, examplerun.C(t, "count/count.c"), []wordcounttest.ConfigCase{
		{Name: "empty", Config: ""},
		{Name: "blank", Config: "  \n"},
		{Name: "empty object", Config: "{}"},
		{Name: "final", Config: `{"mode":"final"}`},
		{Name: "running", Config: ` { "mode" : "running" } `},
		{Name: "unknown mode", Config: `{"mode": "sometimes"}`, WantErr: `mode "sometimes": want "final" or "running"`},
		{Name: "other key", Config: `{"mood": "running"}`, WantErr: `want the key "mode"`},
		{Name: "not an object", Config: `["running"]`, WantErr: "want a JSON object"},
		{Name: "number", Config: `{"mode": 1}`, WantErr: "mode must be a string"},
		{Name: "trailing", Config: `{"mode": "running"} x`, WantErr: `want the key "mode" and nothing else`},
	})
}

// TestWordCountJob runs the C operators through the engine and checks the
// committed counts against the reference; and once more with the Go build of
// count after the C split, since operators of different languages share
// one record format.
func TestWordCountJob(t *testing.T) {
	c := func(src string) func(t *testing.T) runtime.OperatorFactory {
		return func(t *testing.T) runtime.OperatorFactory { return examplerun.C(t, src) }
	}
	wordcounttest.Job(t, "wordcount-c",
		wordcounttest.Pipeline{Name: "c", Split: c("split/split.c"), Count: c("count/count.c")},
		wordcounttest.Pipeline{Name: "c split, go count", Split: c("split/split.c"), Count: wordcounttest.GoCount},
	)
}

// TestJobSpec checks that job.yaml is a valid job spec.
func TestJobSpec(t *testing.T) { wordcounttest.JobSpec(t, "wordcount-c") }

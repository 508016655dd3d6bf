package wordcountc_test

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

// The C operators pass the checks of every word-count build
// (examples/wordcount/wordcounttest).

func TestSplit(t *testing.T) { wordcounttest.Split(t, examplerun.C(t, "split/split.c")) }

func TestCountFinal(t *testing.T) { wordcounttest.CountFinal(t, examplerun.C(t, "count/count.c")) }

func TestCountRunning(t *testing.T) { wordcounttest.CountRunning(t, examplerun.C(t, "count/count.c")) }

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

// Package wordcounttest holds the checks that every non-Go build of the
// word-count operators passes (examples/wordcount-c, examples/wordcount-rust):
// the same behaviour as the Go operators, through the real host and engine.
// Each check takes the build's operator factories, so a new language's
// example tests its operators with a few lines.
package wordcounttest

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
)

// InputFile is the Go example's input, relative to a sibling example's
// directory; the job specs of the other languages read it too.
const InputFile = "../wordcount/input.txt"

// maxWordBytes is where split cuts a longer run of word characters.
const maxWordBytes = 256

// Split checks the split operator: lower-case words, a long token cut to
// maxWordBytes, and every word inheriting its line's timestamp and tracking
// id with an empty value.
func Split(t *testing.T, split runtime.OperatorFactory) {
	t.Helper()
	h := examplerun.Harness(t, split, runtime.OperatorInfo{Name: "split"})
	long := strings.Repeat("x", 300)
	h.Process(weir.Record{Value: []byte("The weir's CREST, and -- the pool! " + long), Timestamp: 7, TrackingID: 9})
	var got []string
	for _, r := range h.Output(0) {
		if r.Timestamp != 7 || r.TrackingID != 9 || len(r.Value) != 0 {
			t.Fatalf("word %q: timestamp %d, tracking id %d, value %q; want the line's 7 and 9 and no value", r.Key, r.Timestamp, r.TrackingID, r.Value)
		}
		got = append(got, string(r.Key))
	}
	if want := "the weir's crest and the pool " + long[:maxWordBytes]; strings.Join(got, " ") != want {
		t.Fatalf("words %q, want %q", got, want)
	}
}

// CountFinal checks the count operator in its default mode: nothing before
// the end of input, then one count per word.
func CountFinal(t *testing.T, count runtime.OperatorFactory) {
	t.Helper()
	h := examplerun.Harness(t, count, runtime.OperatorInfo{Name: "count", Keyed: true})
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

// CountRunning checks the count operator with {"mode": "running"}: the count
// so far, per record.
func CountRunning(t *testing.T, count runtime.OperatorFactory) {
	t.Helper()
	h := examplerun.Harness(t, count, runtime.OperatorInfo{Name: "count", Keyed: true, Config: []byte(`{"mode": "running"}`)})
	h.Process(weir.Record{Key: []byte("x")}, weir.Record{Key: []byte("x")}, weir.Record{Key: []byte("y")})
	var got []string
	for _, r := range h.Output(0) {
		got = append(got, string(r.Key)+"="+string(r.Value))
	}
	if strings.Join(got, " ") != "x=1 x=2 y=1" {
		t.Fatalf("output %q, want x=1 x=2 y=1", got)
	}
}

// Pipeline is one pair of split and count builds for Job.
type Pipeline struct {
	Name         string
	Split, Count func(t *testing.T) runtime.OperatorFactory
}

// Job runs each pipeline as the word-count job named job through the engine
// (parallel subtasks, keyed state, checkpoints, the end-of-input timer) over
// InputFile, and checks the committed counts against the reference.
func Job(t *testing.T, job string, pipelines ...Pipeline) {
	t.Helper()
	input, err := os.ReadFile(InputFile)
	if err != nil {
		t.Fatal(err)
	}
	want := wordcount.Reference(input)
	for _, p := range pipelines {
		t.Run(p.Name, func(t *testing.T) {
			sink := memory.NewSink()
			examplerun.Run(t, wordcount.Job(job, memory.NewSource(wordcount.Lines(input)), p.Split(t), p.Count(t), sink))
			if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("committed %d counts, want %d:\ngot  %.300q\nwant %.300q", len(got), len(want), got, want)
			}
		})
	}
}

// GoCount is the Go build of count (examples/wordcount/count), for a
// pipeline that mixes languages: operators of every language share one
// record format.
func GoCount(t *testing.T) runtime.OperatorFactory {
	return examplerun.Wasm(t, "../wordcount/count/wasm")
}

// ConfigCase is a configuration of count and the error it must give ("" for a
// valid one). The wording of errors is each language's own.
type ConfigCase struct {
	Name, Config string
	WantErr      string
}

// CountConfig makes a count operator from count with each case's
// configuration and checks that it is accepted, or rejected with an error
// that contains WantErr.
func CountConfig(t *testing.T, count runtime.OperatorFactory, cases []ConfigCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := count.NewOperator(context.Background(), runtime.OperatorInfo{Name: "count", Keyed: true, Config: []byte(tc.Config)})
			switch {
			case tc.WantErr == "" && err != nil:
				t.Fatalf("config %q: %v", tc.Config, err)
			case tc.WantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.WantErr)):
				t.Fatalf("config %q: got %v, want an error saying %q", tc.Config, err, tc.WantErr)
			}
		})
	}
}

// JobSpec checks that job.yaml in the current directory is a valid job spec
// named job whose text says each of mustSay.
func JobSpec(t *testing.T, job string, mustSay ...string) {
	t.Helper()
	data, err := os.ReadFile("job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := jobspec.Parse(data, "job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name() != job {
		t.Fatalf("job name %q, want %s", spec.Name(), job)
	}
	for _, m := range mustSay {
		if !strings.Contains(string(data), m) {
			t.Errorf("job.yaml does not say %q", m)
		}
	}
}

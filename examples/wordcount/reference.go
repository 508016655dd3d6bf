// Package wordcount is the word-count example: split/ splits lines into
// lower-case words, count/ counts them per word (keyed state and an
// end-of-input timer), job.yaml runs them on input.txt. The operators are
// written with the Go SDK; examples/wordcount-rust and examples/wordcount-c
// are the same operators in Rust and in C.
//
// This package holds what the tests of every language share: Reference, the
// output they check their committed counts against, computed without the
// engine and without the operators' code; Lines, the input as the records of
// an in-memory source; and Job, the job they run.
package wordcount

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
)

// referenceWord is a word for Reference: a run of ASCII letters, digits and
// apostrophes. It is a tokenizer of its own, not the split operator's, so
// that the tests compare two implementations.
var referenceWord = regexp.MustCompile(`[A-Za-z0-9']+`)

// Reference returns the word counts of text as the job commits them:
// "word=count" lines, lower-case words, sorted.
func Reference(text []byte) []string {
	counts := map[string]int{}
	for _, w := range referenceWord.FindAllString(string(text), -1) {
		counts[strings.ToLower(w)]++
	}
	var out []string
	for w, n := range counts {
		out = append(out, fmt.Sprintf("%s=%d", w, n))
	}
	sort.Strings(out)
	return out
}

// Lines returns the lines of text (split at "\n"; a final newline gives an
// empty last line) as records for memory.NewSource, one per line, with the
// line as the value.
func Lines(text []byte) []memory.Record {
	var recs []memory.Record
	for _, l := range strings.Split(string(text), "\n") {
		recs = append(recs, memory.Record{Value: l})
	}
	return recs
}

// Job returns the word-count job of the tests, named name: src -> split (2
// subtasks, rebalanced) -> count (3 subtasks, keyed by word) -> sink (1
// subtask). It has more subtasks than job.yaml so that the keyed exchange
// moves words between subtasks.
func Job(name string, src runtime.Source, split, count runtime.OperatorFactory, sink runtime.Sink) *runtime.Job {
	return &runtime.Job{
		Name:    name,
		Sources: []*runtime.SourceNode{{Name: "lines", Parallelism: 1, Source: src}},
		Operators: []*runtime.OperatorNode{
			{Name: "split", Parallelism: 2, Inputs: []runtime.Input{{From: "lines", Partition: runtime.Rebalance}}, Factory: split},
			{Name: "count", Parallelism: 3, Inputs: []runtime.Input{{From: "split", Partition: runtime.KeyBy}}, Factory: count},
		},
		Sinks: []*runtime.SinkNode{{Name: "out", Parallelism: 1, Inputs: []runtime.Input{{From: "count", Partition: runtime.Rebalance}}, Sink: sink}},
	}
}

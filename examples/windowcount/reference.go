// Package windowcount is the windowed-count example: window/ counts events
// per user in one-minute tumbling event-time windows (keyed window state and
// event-time timers), and job.yaml runs it over the deterministic generator
// (plugins/datagen). The operator is written with the Go SDK;
// examples/windowcount-rust is the same operator in Rust.
//
// This package holds what the tests of every language share: Reference, the
// output they check their committed windows against, computed from the
// generator's records directly, without the engine or the operator; and Job,
// the job they run.
package windowcount

import (
	"fmt"
	"sort"
	"time"

	"github.com/weirstream/weir/plugins/datagen"
	"github.com/weirstream/weir/runtime"
)

// windowMillis is the length of a window, in milliseconds of event time.
const windowMillis = 60_000

// Reference returns the per-minute counts of records 0 to count-1 of src as
// the job commits them: "key=windowStart n" lines, where windowStart is the
// start of the one-minute window in RFC 3339 (UTC), sorted.
func Reference(src *datagen.Source, count uint64) []string {
	counts := map[string]int{}
	for i := uint64(0); i < count; i++ {
		key, _, ts := src.Record(i)
		start := ts - ts%windowMillis
		counts[fmt.Sprintf("%s=%s", key, time.UnixMilli(start).UTC().Format(time.RFC3339))]++
	}
	var out []string
	for k, n := range counts {
		out = append(out, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(out)
	return out
}

// Job returns the windowed-count job of the tests, named name: src (2
// subtasks) -> window (3 subtasks, keyed by user) -> sink (1 subtask).
func Job(name string, src runtime.Source, window runtime.OperatorFactory, sink runtime.Sink) *runtime.Job {
	return &runtime.Job{
		Name:    name,
		Sources: []*runtime.SourceNode{{Name: "events", Parallelism: 2, Source: src}},
		Operators: []*runtime.OperatorNode{
			{Name: "window", Parallelism: 3, Inputs: []runtime.Input{{From: "events", Partition: runtime.KeyBy}}, Factory: window},
		},
		Sinks: []*runtime.SinkNode{{Name: "out", Parallelism: 1, Inputs: []runtime.Input{{From: "window", Partition: runtime.Rebalance}}, Sink: sink}},
	}
}

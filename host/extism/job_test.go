package extism

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
)

// TestJob runs two Extism operators through the engine, with checkpoints:
// source (2 splits) -> upper (map, forward) -> keyBy -> sum (keyed state,
// timers, side output) -> sinks "sums" (port 0) and "finals" (port 1). Each
// key's records come from one split, so its running sums are deterministic,
// and the committed output is checked against sums computed here.
func TestJob(t *testing.T) {
	splits := make([][]memory.Record, 2)
	totals := map[string]int{}
	var want []string
	for i := range 200 {
		key := fmt.Sprintf("k%d", i%7)
		n := (i*37)%11 - 3
		splits[(i%7)%2] = append(splits[(i%7)%2], memory.Record{Key: key, Value: strconv.Itoa(n), Timestamp: int64(1000 + i)})
		up := strings.ToUpper(key)
		totals[up] += n
		want = append(want, fmt.Sprintf("%s=%d", up, totals[up]))
	}
	var wantFinals []string
	for k, n := range totals {
		wantFinals = append(wantFinals, fmt.Sprintf("%s=final:%d", k, n))
	}
	slices.Sort(want)
	slices.Sort(wantFinals)

	sums, finals := memory.NewSink(), memory.NewSink()
	job := &runtime.Job{
		Name:    "extism",
		Sources: []*runtime.SourceNode{{Name: "numbers", Parallelism: 2, Source: memory.NewSource(splits...)}},
		Operators: []*runtime.OperatorNode{
			{Name: "upper", Parallelism: 2, Inputs: []runtime.Input{{From: "numbers", Partition: runtime.Forward}}, Factory: sharedPlugin(t, "upper")},
			{Name: "sum", Parallelism: 2, Inputs: []runtime.Input{{From: "upper", Partition: runtime.KeyBy}}, Factory: sharedPlugin(t, "sum")},
		},
		Sinks: []*runtime.SinkNode{
			{Name: "sums", Parallelism: 1, Inputs: []runtime.Input{{From: "sum", Port: 0, Partition: runtime.Rebalance}}, Sink: sums},
			{Name: "finals", Parallelism: 1, Inputs: []runtime.Input{{From: "sum", Port: 1, Partition: runtime.Rebalance}}, Sink: finals},
		},
	}
	examplerun.Run(t, job)
	if got := sums.Committed(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("committed sums (%d):\n got %.400q\nwant %.400q", len(got), got, want)
	}
	if got := finals.Committed(); strings.Join(got, " ") != strings.Join(wantFinals, " ") {
		t.Errorf("committed finals:\n got %q\nwant %q", got, wantFinals)
	}
}

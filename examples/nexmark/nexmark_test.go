package nexmark_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirstream/weir/examples/nexmark"
	"github.com/weirstream/weir/examples/nexmark/reference"
	"github.com/weirstream/weir/internal/nexmarkbench"
	nexmarksource "github.com/weirstream/weir/plugins/nexmark"
)

// equalityEvents is the length of the bounded runs the engine's output is
// compared on. At 1000 events per second of event time it spans 100 s: ten q7
// windows, some fifty q5 windows, sessions that end.
const equalityEvents = 100_000

func equalityConfig() nexmarksource.Config {
	cfg := nexmarksource.DefaultConfig()
	cfg.Seed = 7
	cfg.EventsPerSecond = 1000
	return cfg
}

var (
	refOnce   sync.Once
	refEvents *reference.Events
	refErr    error
)

func referenceEvents(t *testing.T) *reference.Events {
	refOnce.Do(func() {
		cfg := equalityConfig()
		g, err := nexmarksource.NewGenerator(cfg)
		if err != nil {
			refErr = err
			return
		}
		refEvents, refErr = reference.Generate(g, equalityEvents)
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	return refEvents
}

// TestQueriesMatchReference runs every query through the engine — the Wasm
// build of its operators, parallelism 2, Pebble state, checkpoints every
// 100 ms — on a bounded run, and demands that the committed output be
// exactly the reference implementation's (docs/nexmark.md §8), as sorted
// canonical lines.
func TestQueriesMatchReference(t *testing.T) {
	ev := referenceEvents(t)
	for _, q := range nexmark.Queries {
		t.Run(q.Name, func(t *testing.T) {
			want, err := reference.Run(q.Name, ev)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatalf("the reference output of %s is empty: the test would prove nothing", q.Name)
			}
			cfg := equalityConfig()
			res, err := nexmarkbench.Run(context.Background(), nexmarkbench.Options{
				Query: q.Name, Events: equalityEvents, Parallelism: 2, CheckpointInterval: 100 * time.Millisecond,
				Generator: &cfg, Collect: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Checkpoints < 1 {
				t.Errorf("the run completed %d checkpoints", res.Checkpoints)
			}
			diffLines(t, res.Lines, want)
			t.Logf("%s: %d lines, %d checkpoints, %.0f events/s", q.Name, len(want), res.Checkpoints, res.EventsPerSec)
		})
	}
}

// TestQueriesNativeParallelism3 is the same comparison on other events (seed
// 11 at the default 10 000 events per second: every window full) with the
// operators run natively at parallelism 3 and checkpoints every 20 ms: the
// committed output must not depend on the parallelism, the checkpoints, the
// interleaving of the splits, or the Wasm build.
func TestQueriesNativeParallelism3(t *testing.T) {
	const events = 60_000
	cfg := nexmarksource.DefaultConfig()
	cfg.Seed = 11
	g, err := nexmarksource.NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := reference.Generate(g, events)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range nexmark.Queries {
		t.Run(q.Name, func(t *testing.T) {
			want, err := reference.Run(q.Name, ev)
			if err != nil {
				t.Fatal(err)
			}
			res, err := nexmarkbench.Run(context.Background(), nexmarkbench.Options{
				Query: q.Name, Events: events, Parallelism: 3, CheckpointInterval: 20 * time.Millisecond,
				Generator: &cfg, Native: true, Collect: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			diffLines(t, res.Lines, want)
		})
	}
}

// diffLines fails t with the first lines where got and want (sorted) differ.
func diffLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return
	}
	missing, extra := diffSorted(want, got), diffSorted(got, want)
	var sb strings.Builder
	fmt.Fprintf(&sb, "got %d lines, want %d; %d missing, %d unexpected", len(got), len(want), len(missing), len(extra))
	for i, l := range missing[:min(5, len(missing))] {
		fmt.Fprintf(&sb, "\nmissing[%d]    %s", i, l)
	}
	for i, l := range extra[:min(5, len(extra))] {
		fmt.Fprintf(&sb, "\nunexpected[%d] %s", i, l)
	}
	t.Fatal(sb.String())
}

// diffSorted returns the lines of a (sorted) that b (sorted) lacks, counting
// repeats.
func diffSorted(a, b []string) []string {
	var out []string
	j := 0
	for _, l := range a {
		for j < len(b) && b[j] < l {
			j++
		}
		if j < len(b) && b[j] == l {
			j++
			continue
		}
		out = append(out, l)
	}
	return out
}

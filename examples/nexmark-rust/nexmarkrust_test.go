package nexmarkrust_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/weirstream/weir/examples/nexmark/reference"
	"github.com/weirstream/weir/internal/nexmarkbench"
	"github.com/weirstream/weir/internal/wasmbuild"
	nexmarksource "github.com/weirstream/weir/plugins/nexmark"
)

// events is the length of the bounded run, as in examples/nexmark's
// equality test.
const events = 100_000

// TestQueriesMatchReference runs the Rust build of q0, q1 and q2 through the
// engine — parallelism 2, Pebble state, checkpoints every 100 ms — and
// demands exactly the reference implementation's output.
func TestQueriesMatchReference(t *testing.T) {
	cfg := nexmarksource.DefaultConfig()
	cfg.Seed, cfg.EventsPerSecond = 7, 1000
	g, err := nexmarksource.NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := reference.Generate(g, events)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"q0", "q1", "q2"} {
		t.Run(q, func(t *testing.T) {
			// The runner reads <stage>.wasm from its Wasm directory; these
			// queries have one stage, named after the query.
			dir := t.TempDir()
			wasm, err := os.ReadFile(wasmbuild.MustRust(t, q))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, q+".wasm"), wasm, 0o644); err != nil {
				t.Fatal(err)
			}
			want, err := reference.Run(q, ev)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatalf("the reference output of %s is empty: the test would prove nothing", q)
			}
			runCfg := cfg
			res, err := nexmarkbench.Run(context.Background(), nexmarkbench.Options{
				Query: q, Events: events, Parallelism: 2, CheckpointInterval: 100 * time.Millisecond,
				Generator: &runCfg, WasmDir: dir, Collect: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Checkpoints < 1 {
				t.Errorf("the run completed %d checkpoints", res.Checkpoints)
			}
			if !slices.Equal(res.Lines, want) {
				t.Fatalf("%s: %d lines, want %d; first difference: %s", q, len(res.Lines), len(want), firstDiff(res.Lines, want))
			}
		})
	}
}

// firstDiff describes the first line where got and want (both sorted)
// differ.
func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("line %d: got %s, want %s", i, got[i], want[i])
		}
	}
	if len(got) < len(want) {
		return fmt.Sprintf("missing from line %d: %s", len(got), want[len(got)])
	}
	return fmt.Sprintf("extra from line %d: %s", len(want), got[len(want)])
}

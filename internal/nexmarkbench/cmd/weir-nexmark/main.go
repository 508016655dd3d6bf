// Command weir-nexmark runs one Nexmark query through Weir as fast as it goes
// and prints what it measured as one JSON object (nexmarkbench.Result) on
// standard output:
//
//	weir-nexmark -query q5 -events 10000000 -parallelism 2 -checkpoint-interval 10s
//
// Run it once per query, so that peakRSSBytes is the peak memory of that
// query alone. With -output FILE it also writes the canonical text of the
// committed results (docs/nexmark.md §8), sorted, one per line, to compare
// with another engine's output. Errors go to standard error with exit status 1;
// bad flags exit with status 2.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"

	"github.com/weirstream/weir/examples/nexmark"
	"github.com/weirstream/weir/internal/nexmarkbench"
	nexmarksource "github.com/weirstream/weir/plugins/nexmark"
	"github.com/weirstream/weir/runtime/jobspec"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir-nexmark", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts       nexmarkbench.Options
		gen        = nexmarksource.DefaultConfig()
		output     string
		debug      bool
		cpuProfile string
	)
	fs.StringVar(&opts.Query, "query", "", "the query: "+strings.Join(nexmark.Names(), ", "))
	fs.Int64Var(&opts.Events, "events", 10_000_000, "number of events to generate")
	fs.IntVar(&opts.Parallelism, "parallelism", nexmarkbench.DefaultParallelism, "parallelism of the source, the operators and the sink")
	fs.DurationVar(&opts.CheckpointInterval, "checkpoint-interval", nexmarkbench.DefaultCheckpointInterval, "time between checkpoints")
	fs.StringVar(&opts.DataDir, "data-dir", "", "directory for checkpoints and state (default: a temporary directory, removed afterwards)")
	fs.StringVar(&opts.WasmDir, "wasm-dir", "", "directory of the built modules <stage>.wasm (default: build them from source)")
	fs.StringVar(&opts.CacheDir, "cache-dir", "", "directory that keeps compiled Wasm code between runs")
	fs.BoolVar(&opts.Native, "native", false, "run the operators in-process instead of as Wasm")
	stateCache := fs.String("state-cache", "", "in-memory state cache per keyed subtask, e.g. 16MiB (default: the Pebble backend's, 64MiB); the rest spills to Pebble")
	fs.Uint64Var(&gen.Seed, "seed", gen.Seed, "generator seed")
	fs.Int64Var(&gen.EventsPerSecond, "events-per-second", gen.EventsPerSecond, "event-time rate of the generator (not a rate limit)")
	fs.StringVar(&output, "output", "", "write the canonical result lines, sorted, to this file")
	fs.BoolVar(&debug, "v", false, "log the engine's messages to standard error")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run (pprof) to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "weir-nexmark: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if opts.Query == "" {
		fmt.Fprintf(stderr, "weir-nexmark: -query is required (one of %s)\n", strings.Join(nexmark.Names(), ", "))
		return 2
	}
	if *stateCache != "" {
		n, err := jobspec.ParseSize(*stateCache)
		if err != nil {
			fmt.Fprintf(stderr, "weir-nexmark: -state-cache: %v\n", err)
			return 2
		}
		opts.StateCacheBytes = n
	}
	opts.Generator = &gen
	opts.Collect = output != ""
	if debug {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "weir-nexmark: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "weir-nexmark: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	res, err := nexmarkbench.Run(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "weir-nexmark: %v\n", err)
		return 1
	}
	if output != "" {
		var text strings.Builder
		for _, l := range res.Lines {
			text.WriteString(l)
			text.WriteByte('\n')
		}
		if err := os.WriteFile(output, []byte(text.String()), 0o644); err != nil {
			fmt.Fprintf(stderr, "weir-nexmark: %v\n", err)
			return 1
		}
	}
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(res); err != nil {
		fmt.Fprintf(stderr, "weir-nexmark: %v\n", err)
		return 1
	}
	return 0
}

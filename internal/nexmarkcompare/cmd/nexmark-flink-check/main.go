// Command nexmark-flink-check runs Weir's Nexmark queries on Apache Flink
// (examples/nexmark/flink, on an embedded MiniCluster) on a bounded run and
// checks that each query's result lines, sorted, equal the Go reference
// implementation's (examples/nexmark/reference) exactly; with -weir it checks
// Weir's output (a weir-nexmark binary) the same way:
//
//	nexmark-flink-check -queries all -events 100000 -backends rocksdb,heap
//
// It prints one line per query and engine, the first differences of a
// mismatch, and a closing "N passed, M failed" line; it exits with status 1
// when a run failed or differed, and 2 on bad flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/weirstream/weir/examples/nexmark"
	"github.com/weirstream/weir/internal/nexmarkcompare"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nexmark-flink-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts     nexmarkcompare.CheckOptions
		queries  string
		backends string
		jvmArgs  string
	)
	fs.StringVar(&queries, "queries", "all", "comma-separated queries ("+strings.Join(nexmark.Names(), ", ")+") or all")
	fs.Int64Var(&opts.Events, "events", nexmarkcompare.DefaultCheckEvents, "number of events of each run")
	fs.Uint64Var(&opts.Seed, "seed", nexmarkcompare.DefaultCheckSeed, "generator seed")
	fs.Int64Var(&opts.EventsPerSecond, "events-per-second", nexmarkcompare.DefaultCheckEventsPerSecond, "event-time rate of the generator")
	fs.IntVar(&opts.Parallelism, "parallelism", 2, "parallelism of every run")
	fs.DurationVar(&opts.CheckpointInterval, "checkpoint-interval", nexmarkcompare.DefaultCheckInterval, "time between checkpoints")
	fs.StringVar(&backends, "backends", "rocksdb,heap", "comma-separated Flink state backends (rocksdb, heap)")
	fs.StringVar(&opts.Flink.Jar, "jar", "", "weir-nexmark-flink.jar (default: "+nexmarkcompare.DefaultJar()+")")
	fs.StringVar(&opts.Flink.Java, "java", "java", "the java command")
	fs.StringVar(&jvmArgs, "jvm-args", strings.Join(nexmarkcompare.DefaultJVMArgs, " "), "JVM options of the Flink runs")
	fs.StringVar(&opts.Weir, "weir", "", "a weir-nexmark binary: also check Weir's output")
	fs.StringVar(&opts.WorkDir, "work-dir", "", "keep the output files here (default: a temporary directory, removed)")
	fs.IntVar(&opts.MaxDiffLines, "max-diff", nexmarkcompare.DefaultMaxDiffLines, "differing lines to show per mismatch")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nexmark-flink-check: unexpected arguments %q\n", fs.Args())
		return 2
	}
	var err error
	if opts.Queries, err = nexmarkcompare.ParseQueries(queries); err != nil {
		fmt.Fprintf(stderr, "nexmark-flink-check: -queries: %v\n", err)
		return 2
	}
	if opts.Backends, err = nexmarkcompare.ParseBackends(backends); err != nil {
		fmt.Fprintf(stderr, "nexmark-flink-check: -backends: %v\n", err)
		return 2
	}
	opts.Flink.JVMArgs = nexmarkcompare.ParseJVMArgs(jvmArgs)
	if err := opts.Flink.Available(); err != nil {
		fmt.Fprintf(stderr, "nexmark-flink-check: %v\n", err)
		return 1
	}
	jarDir, err := os.MkdirTemp("", "nexmark-flink-check-jar-")
	if err != nil {
		fmt.Fprintf(stderr, "nexmark-flink-check: %v\n", err)
		return 1
	}
	defer os.RemoveAll(jarDir)
	if opts.Flink, err = opts.Flink.CopyJar(jarDir); err != nil {
		fmt.Fprintf(stderr, "nexmark-flink-check: %v\n", err)
		return 1
	}
	opts.Progress = stdout
	results, err := nexmarkcompare.Check(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "nexmark-flink-check: %v\n", err)
		return 1
	}
	passed, failed := 0, 0
	for _, r := range results {
		if r.OK() {
			passed++
		} else {
			failed++
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

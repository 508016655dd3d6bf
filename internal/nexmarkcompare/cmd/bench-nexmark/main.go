// Command bench-nexmark runs Weir's Nexmark queries in Weir and in Apache
// Flink on this machine, one run after the other, each in a fresh process,
// with the same events, parallelism and checkpoint interval, and prints a
// Markdown table: per query, Weir's events/s, Flink's with the RocksDB and the
// heap state backend, Weir's ratio to each, and each engine's peak RSS.
//
//	bench-nexmark -queries q0,q1,q2,q3,q4,q5,q7,q8 -events 10000000
//
// Weir runs internal/nexmarkbench/cmd/weir-nexmark (built with `go build`
// unless -weir names a binary); Flink runs the jar of examples/nexmark/flink
// (`make nexmark-flink-jar`) in a JVM with -jvm-args. A run that fails shows
// "failed: <reason>" in its cell, and no ratio is computed from it; the
// command then exits with status 1 after printing the table. Bad flags exit
// with status 2.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/weirstream/weir/examples/nexmark"
	"github.com/weirstream/weir/internal/nexmarkbench"
	"github.com/weirstream/weir/internal/nexmarkcompare"
	"github.com/weirstream/weir/runtime/jobspec"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-nexmark", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts     nexmarkcompare.BenchOptions
		queries  string
		backends string
		jvmArgs  string
		verbose  bool
	)
	fs.StringVar(&queries, "queries", "all", "comma-separated queries ("+strings.Join(nexmark.Names(), ", ")+") or all")
	fs.Int64Var(&opts.Events, "events", nexmarkcompare.DefaultBenchEvents, "number of events of each run")
	fs.IntVar(&opts.Parallelism, "parallelism", nexmarkbench.DefaultParallelism, "parallelism of every run")
	fs.DurationVar(&opts.CheckpointInterval, "checkpoint-interval", nexmarkbench.DefaultCheckpointInterval, "time between checkpoints in both engines")
	fs.StringVar(&backends, "backends", "rocksdb,heap", "comma-separated Flink state backends (rocksdb, heap), one table column each")
	fs.StringVar(&opts.Weir, "weir", "", "the weir-nexmark binary (default: go build it)")
	fs.StringVar(&opts.WasmDir, "wasm-dir", "", "directory of the built Wasm modules (default: weir-nexmark builds them)")
	stateCache := fs.String("state-cache", "", "Weir's state cache per keyed subtask, e.g. 16MiB (default: Weir's default, 64MiB)")
	fs.StringVar(&opts.Flink.Jar, "jar", "", "weir-nexmark-flink.jar (default: "+nexmarkcompare.DefaultJar()+")")
	fs.StringVar(&opts.Flink.Java, "java", "java", "the java command")
	fs.StringVar(&jvmArgs, "jvm-args", strings.Join(nexmarkcompare.DefaultJVMArgs, " "), "JVM options of the Flink runs")
	fs.DurationVar(&opts.RunTimeout, "run-timeout", nexmarkcompare.DefaultRunTimeout, "longest time one engine run may take")
	fs.BoolVar(&verbose, "v", false, "pass the engines' standard error through")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench-nexmark: unexpected arguments %q\n", fs.Args())
		return 2
	}
	var err error
	if opts.Queries, err = nexmarkcompare.ParseQueries(queries); err != nil {
		fmt.Fprintf(stderr, "bench-nexmark: -queries: %v\n", err)
		return 2
	}
	if opts.Backends, err = nexmarkcompare.ParseBackends(backends); err != nil {
		fmt.Fprintf(stderr, "bench-nexmark: -backends: %v\n", err)
		return 2
	}
	if *stateCache != "" {
		if opts.StateCacheBytes, err = jobspec.ParseSize(*stateCache); err != nil {
			fmt.Fprintf(stderr, "bench-nexmark: -state-cache: %v\n", err)
			return 2
		}
	}
	opts.Flink.JVMArgs = nexmarkcompare.ParseJVMArgs(jvmArgs)
	if err := nexmarkcompare.CheckBenchOptions(opts); err != nil {
		fmt.Fprintf(stderr, "bench-nexmark: %v\n", err)
		return 2
	}
	if err := opts.Flink.Available(); err != nil {
		fmt.Fprintf(stderr, "bench-nexmark: %v\n", err)
		return 1
	}
	jarDir, err := os.MkdirTemp("", "bench-nexmark-jar-")
	if err != nil {
		fmt.Fprintf(stderr, "bench-nexmark: %v\n", err)
		return 1
	}
	defer os.RemoveAll(jarDir)
	if opts.Flink, err = opts.Flink.CopyJar(jarDir); err != nil {
		fmt.Fprintf(stderr, "bench-nexmark: %v\n", err)
		return 1
	}
	if opts.Weir == "" {
		dir, err := os.MkdirTemp("", "bench-nexmark-")
		if err != nil {
			fmt.Fprintf(stderr, "bench-nexmark: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		if opts.Weir, err = nexmarkcompare.BuildWeir(ctx, dir); err != nil {
			fmt.Fprintf(stderr, "bench-nexmark: %v\n", err)
			return 1
		}
	}
	opts.Progress = stderr
	if verbose {
		opts.WeirStderr = stderr
		opts.Flink.Stderr = stderr
	}
	start := time.Now()
	loadBefore := loadAverage()
	rows, err := nexmarkcompare.Bench(ctx, opts)
	if err != nil && rows == nil {
		fmt.Fprintf(stderr, "bench-nexmark: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Nexmark, Weir vs Apache Flink: %d events per run, parallelism %d, checkpoints every %v in both engines.\n",
		opts.Events, opts.Parallelism, opts.CheckpointInterval)
	fmt.Fprintf(stdout, "Machine: %s. Flink: JVM %s.\n\n", machine(ctx, opts.Flink.Java), strings.Join(opts.Flink.JVMArgs, " "))
	if werr := nexmarkcompare.WriteTable(stdout, rows, opts.Backends); werr != nil {
		fmt.Fprintf(stderr, "bench-nexmark: %v\n", werr)
		return 1
	}
	fmt.Fprintf(stdout, "\nWeir: events / wall time of the job (runtime.Run, to its final checkpoint). Flink: events / wall time of the job, from its\n"+
		"submission to a started MiniCluster to its end. Peak RSS: each process's ru_maxrss.\n\n")
	if werr := nexmarkcompare.WriteCPUTable(stdout, rows, opts.Backends); werr != nil {
		fmt.Fprintf(stderr, "bench-nexmark: %v\n", werr)
		return 1
	}
	fmt.Fprintf(stdout, "\nEvents per CPU second: events / (user + system CPU time of the process during the job).\n"+
		"Load average (1 min) %s before the runs, %s after; the runs took %v.\n", loadBefore, loadAverage(), time.Since(start).Round(time.Second))
	if err != nil {
		fmt.Fprintf(stderr, "bench-nexmark: %v\n", err)
		return 1
	}
	for _, r := range rows {
		if r.Weir.Err != nil {
			return 1
		}
		for _, f := range r.Flink {
			if f.Err != nil {
				return 1
			}
		}
	}
	return 0
}

// machine describes the CPU, the core count, the memory and the Java
// version, as far as it can find them out.
func machine(ctx context.Context, java string) string {
	parts := []string{fmt.Sprintf("%d cores", runtime.NumCPU())}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				parts = append([]string{strings.TrimSpace(v)}, parts...)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			var kb int64
			if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
				parts = append(parts, fmt.Sprintf("%.0f GiB memory", float64(kb)/(1<<20)))
				break
			}
		}
	}
	parts = append(parts, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	if out, err := exec.CommandContext(ctx, java, "-version").CombinedOutput(); err == nil {
		first, _, _ := strings.Cut(string(bytes.TrimSpace(out)), "\n")
		parts = append(parts, first)
	}
	return strings.Join(parts, ", ")
}

// loadAverage returns the 1-minute load average of the machine, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

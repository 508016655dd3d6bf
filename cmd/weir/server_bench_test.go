package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	weirv1 "github.com/weirstream/weir/runtime/api/weirv1"
	"github.com/weirstream/weir/runtime/api/weirv1/weirv1connect"
)

// The server benchmarks run a real `weir server` process; docs/BENCHMARKS.md
// has their figures and the command that reproduces them.

// benchSpec is a keyed stateful job at a steady rate with an exactly-once file
// sink: swapSpec with a longer checkpoint interval, so that the checkpoints the
// swaps force stand out from the periodic ones.
const benchSpec = `name: %s
parallelism: 2
checkpoint: {interval: 2s}
sources:
  - name: events
    kind: datagen
    parallelism: 1
    options: {seed: 5, count: %d, keys: 1000, valueBytes: 20, rate: %d}
operators:
  - name: count
    module: vcount
    inputs: [{from: events, partition: keyBy}]
sinks:
  - name: out
    kind: %s
    parallelism: 2
    from: count
    options: %s
`

var pauseRE = regexp.MustCompile(`msg="module swapped".* pause=(\S+)`)

// percentile returns the p-th percentile (0-100) of sorted ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(float64(len(ds))*p/100+0.5) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

func reportDurations(b *testing.B, name string, ds []time.Duration) {
	slices.Sort(ds)
	b.ReportMetric(float64(percentile(ds, 50).Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(percentile(ds, 99).Microseconds())/1000, name+"-p99-ms")
	b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1000, name+"-max-ms")
}

// BenchmarkServerSwap swaps the operator of a job that runs at a steady 20 000
// records/s, once per iteration (run it with -benchtime=60x), and reports the
// pause each swap caused on each operator subtask (from the server's log: the
// barrier's alignment, the snapshot and the switch of instances) and the
// latency of the SwapModule call, which waits for the swap's checkpoint.
func BenchmarkServerSwap(b *testing.B) {
	bin := buildWeir(b)
	dir := b.TempDir()
	paths := vcountModules(b, dir, 2)
	s := startServer(b, bin, filepath.Join(dir, "data"), "--log-level", "info")
	for i, p := range paths {
		s.mustCLI("module", "push", p, "--name", fmt.Sprintf("vcount%02d", i+1))
	}
	s.mustCLI("module", "push", paths[0], "--name", "vcount")
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(benchSpec, "swapbench", 1<<40, 20000, "file", "{path: out, format: keyvalue}")), 0o644)
	id := strings.TrimSpace(s.mustCLI("job", "submit", spec))
	jobs := weirv1connect.NewJobServiceClient(http.DefaultClient, s.url())
	ctx := context.Background()
	time.Sleep(3 * time.Second) // steady state
	var calls []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := jobs.SwapModule(ctx, connect.NewRequest(&weirv1.SwapModuleRequest{Job: id, Operator: "count", Module: fmt.Sprintf("vcount%02d", 1+(i+1)%2)})); err != nil {
			b.Fatalf("swap %d: %v", i, err)
		}
		calls = append(calls, time.Since(start))
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	s.mustCLI("job", "cancel", id)
	s.kill()
	var pauses []time.Duration
	for _, m := range pauseRE.FindAllStringSubmatch(s.stderr.String(), -1) {
		d, err := time.ParseDuration(m[1])
		if err != nil {
			b.Fatalf("pause %q: %v", m[1], err)
		}
		pauses = append(pauses, d)
	}
	if len(pauses) != 2*b.N {
		b.Fatalf("%d swap pauses in the server's log, want %d (2 subtasks x %d swaps)", len(pauses), 2*b.N, b.N)
	}
	reportDurations(b, "pause", pauses)
	reportDurations(b, "swapcall", calls)
}

// BenchmarkServerAPI measures the latency of the API's calls over Connect
// (binary protobuf over HTTP/1.1, as the CLI sends them) against a server with
// one running job.
func BenchmarkServerAPI(b *testing.B) {
	bin := buildWeir(b)
	dir := b.TempDir()
	paths := vcountModules(b, dir, 1)
	s := startServer(b, bin, filepath.Join(dir, "data"))
	s.mustCLI("module", "push", paths[0], "--name", "vcount")
	spec := fmt.Sprintf(benchSpec, "apibench", 1<<40, 2000, "discard", "{}")
	small := fmt.Sprintf(benchSpec, "small", 10, 0, "discard", "{}")
	jobs := weirv1connect.NewJobServiceClient(http.DefaultClient, s.url())
	ctx := context.Background()
	res, err := jobs.Submit(ctx, connect.NewRequest(&weirv1.SubmitJobRequest{Spec: spec}))
	if err != nil {
		b.Fatal(err)
	}
	id := res.Msg.Id
	b.Run("Get", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := jobs.Get(ctx, connect.NewRequest(&weirv1.GetJobRequest{Id: id})); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("List", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := jobs.List(ctx, connect.NewRequest(&weirv1.ListJobsRequest{})); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Submit", func(b *testing.B) {
		// Each submission is a 10-record job that finishes at once.
		for i := 0; i < b.N; i++ {
			if _, err := jobs.Submit(ctx, connect.NewRequest(&weirv1.SubmitJobRequest{Spec: small})); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkServerVsRun runs the same job (a keyed Go counter over n records
// as fast as the source makes them, into discard) through `weir run` and
// through `weir server`, alternately in each iteration, and reports both
// throughputs and their ratio.
func BenchmarkServerVsRun(b *testing.B) {
	const n = 2_000_000
	bin := buildWeir(b)
	dir := b.TempDir()
	paths := vcountModules(b, dir, 1)
	s := startServer(b, bin, filepath.Join(dir, "data"))
	s.mustCLI("module", "push", paths[0], "--name", "vcount")
	jobs := weirv1connect.NewJobServiceClient(http.DefaultClient, s.url())
	ctx := context.Background()
	var runRate, serverRate float64
	for i := 0; i < b.N; i++ {
		// weir run: the spec names the module file.
		spec := filepath.Join(dir, fmt.Sprintf("run%d.yaml", i))
		body := strings.Replace(fmt.Sprintf(benchSpec, fmt.Sprintf("run%d", i), n, 0, "discard", "{}"), "module: vcount", "module: "+paths[0], 1)
		os.WriteFile(spec, []byte(body), 0o644)
		cmd := exec.Command(bin, "run", "--data-dir", filepath.Join(dir, "rundata"), "--progress", "0", spec)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("weir run: %v\n%s", err, out)
		}
		runRate += n / time.Since(start).Seconds()

		start = time.Now()
		res, err := jobs.Submit(ctx, connect.NewRequest(&weirv1.SubmitJobRequest{Spec: fmt.Sprintf(benchSpec, fmt.Sprintf("srv%d", i), n, 0, "discard", "{}")}))
		if err != nil {
			b.Fatal(err)
		}
		for {
			j, err := jobs.Get(ctx, connect.NewRequest(&weirv1.GetJobRequest{Id: res.Msg.Id}))
			if err != nil {
				b.Fatal(err)
			}
			if j.Msg.State == weirv1.JobState_JOB_STATE_FINISHED {
				break
			}
			if j.Msg.State == weirv1.JobState_JOB_STATE_FAILED {
				b.Fatalf("job failed: %s", j.Msg.Error)
			}
			time.Sleep(10 * time.Millisecond)
		}
		serverRate += n / time.Since(start).Seconds()
	}
	b.ReportMetric(runRate/float64(b.N), "run-records/s")
	b.ReportMetric(serverRate/float64(b.N), "server-records/s")
	b.ReportMetric(serverRate/runRate, "server/run")
}

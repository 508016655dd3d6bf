package enginebench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/examples/wordcount/count"
	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/host/native"
	"github.com/weirstream/weir/internal/enginebench/filter"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/plugins/datagen"
	"github.com/weirstream/weir/plugins/localfs"
	"github.com/weirstream/weir/plugins/pebble"
	"github.com/weirstream/weir/runtime"
)

// discardSink counts records and keeps none. Its commits do nothing.
type discardSink struct{ n atomic.Int64 }

func (s *discardSink) OpenWriter(context.Context, runtime.SinkInfo) (runtime.SinkWriter, error) {
	return discardWriter{s}, nil
}
func (s *discardSink) Commit(context.Context, int64, [][]byte) error  { return nil }
func (s *discardSink) Recover(context.Context, int64, [][]byte) error { return nil }

type discardWriter struct{ s *discardSink }

func (w discardWriter) Write(_ context.Context, b []byte) error {
	w.s.n.Add(int64(abi.Count(b)))
	return nil
}
func (w discardWriter) PreCommit(context.Context, int64) ([]byte, error) { return nil, nil }
func (w discardWriter) Close() error                                     { return nil }

var engine *host.Engine

func TestMain(m *testing.M) {
	var err error
	engine, err = host.NewEngine(context.Background(), host.Config{CacheDir: filepath.Join(os.TempDir(), "weir-bench-cache")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	engine.Close(context.Background())
	os.Exit(code)
}

func wasmFactory(tb testing.TB, dir string) runtime.OperatorFactory {
	tb.Helper()
	path := wasmbuild.MustGo(tb, dir)
	wasm, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := engine.Load(context.Background(), filepath.Base(dir), wasm, host.Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func generator(tb testing.TB, records, keys int) runtime.Source {
	tb.Helper()
	// ~100-byte records: a key of 5-9 bytes and a value of 70 bytes, plus the
	// 32-byte entry header.
	opts := fmt.Sprintf(`{"count": %d, "splits": 2, "keys": %d, "valueBytes": 70}`, records, keys)
	src, err := datagen.NewSource(json.RawMessage(opts), "")
	if err != nil {
		tb.Fatal(err)
	}
	return src
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runJob runs job b.N times and reports records/s and records per CPU-second.
func runJob(b *testing.B, records int, build func() (*runtime.Job, runtime.Config)) {
	b.ReportAllocs()
	var wall, cpu time.Duration
	for i := 0; i < b.N; i++ {
		job, cfg := build()
		cfg.Logger = slog.New(slog.DiscardHandler)
		c0, t0 := cpuTime(), time.Now()
		res, err := runtime.Run(context.Background(), job, cfg)
		wall += time.Since(t0)
		cpu += cpuTime() - c0
		if err != nil || !res.Finished {
			b.Fatalf("run: %+v, %v", res, err)
		}
	}
	total := float64(records) * float64(b.N)
	b.ReportMetric(total/wall.Seconds(), "records/s")
	b.ReportMetric(total/cpu.Seconds(), "records/cpu-s")
	b.ReportMetric(0, "ns/op")
}

// statelessJob is generator -> filter (map + filter) -> discard, two parallel
// pipelines connected by forward edges.
func statelessJob(src runtime.Source, op runtime.OperatorFactory, sink runtime.Sink) *runtime.Job {
	return &runtime.Job{
		Name:    "stateless",
		Sources: []*runtime.SourceNode{{Name: "gen", Parallelism: 2, Source: src}},
		Operators: []*runtime.OperatorNode{
			{Name: "filter", Parallelism: 2, Inputs: []runtime.Input{{From: "gen"}}, Factory: op},
		},
		Sinks: []*runtime.SinkNode{{Name: "discard", Parallelism: 2, Inputs: []runtime.Input{{From: "filter"}}, Sink: sink}},
	}
}

const statelessRecords = 4_000_000

func BenchmarkStatelessWasm(b *testing.B) {
	op := wasmFactory(b, "filter/wasm")
	runJob(b, statelessRecords, func() (*runtime.Job, runtime.Config) {
		return statelessJob(generator(b, statelessRecords, 1000), op, &discardSink{}), runtime.Config{Store: mustStore(b)}
	})
}

func BenchmarkStatelessNative(b *testing.B) {
	op := native.Factory(filter.Operator)
	runJob(b, statelessRecords, func() (*runtime.Job, runtime.Config) {
		return statelessJob(generator(b, statelessRecords, 1000), op, &discardSink{}), runtime.Config{Store: mustStore(b)}
	})
}

func mustStore(tb testing.TB) runtime.SnapshotStore {
	s, err := localfs.New(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// keyedJob is generator -> keyBy -> count (running count per key, Pebble
// state, a checkpoint every second) -> discard.
func keyedJob(src runtime.Source, op runtime.OperatorFactory, sink runtime.Sink) *runtime.Job {
	return &runtime.Job{
		Name:       "keyed",
		Checkpoint: runtime.CheckpointConfig{Interval: time.Second},
		Sources:    []*runtime.SourceNode{{Name: "gen", Parallelism: 2, Source: src}},
		Operators: []*runtime.OperatorNode{
			{Name: "count", Parallelism: 2, Inputs: []runtime.Input{{From: "gen", Partition: runtime.KeyBy}}, Factory: op, Config: []byte(`{"mode":"running"}`)},
		},
		Sinks: []*runtime.SinkNode{{Name: "discard", Parallelism: 2, Inputs: []runtime.Input{{From: "count"}}, Sink: sink}},
	}
}

const (
	keyedRecords = 2_000_000
	keyedKeys    = 100_000
)

func keyedConfig(b *testing.B) runtime.Config {
	return runtime.Config{Store: mustStore(b), State: pebble.Factory{}, WorkDir: b.TempDir()}
}

func BenchmarkKeyedCountWasm(b *testing.B) {
	op := wasmFactory(b, "../../examples/wordcount/count/wasm")
	runJob(b, keyedRecords, func() (*runtime.Job, runtime.Config) {
		return keyedJob(generator(b, keyedRecords, keyedKeys), op, &discardSink{}), keyedConfig(b)
	})
}

func BenchmarkKeyedCountNative(b *testing.B) {
	op := native.Factory(count.Operator)
	runJob(b, keyedRecords, func() (*runtime.Job, runtime.Config) {
		return keyedJob(generator(b, keyedRecords, keyedKeys), op, &discardSink{}), keyedConfig(b)
	})
}

// dedupJob is generator -> keyBy -> dedup (ids = keys, Pebble state, a
// checkpoint every second) -> discard: the built-in dedup operator.
func dedupJob(src runtime.Source, sink runtime.Sink) *runtime.Job {
	return &runtime.Job{
		Name:       "dedup",
		Checkpoint: runtime.CheckpointConfig{Interval: time.Second},
		Sources:    []*runtime.SourceNode{{Name: "gen", Parallelism: 2, Source: src}},
		Operators: []*runtime.OperatorNode{
			{Name: "dedup", Parallelism: 2, Inputs: []runtime.Input{{From: "gen", Partition: runtime.KeyBy}}, Factory: runtime.NewDedup(runtime.DedupConfig{TTL: time.Hour})},
		},
		Sinks: []*runtime.SinkNode{{Name: "discard", Parallelism: 2, Inputs: []runtime.Input{{From: "dedup"}}, Sink: sink}},
	}
}

// dedupRecords is the size of the dedup benchmark: 10 M records over 10 M
// possible ids (about 6.3 M distinct, so 37 % are duplicates).
const dedupRecords = 10_000_000

func BenchmarkDedup10M(b *testing.B) {
	runJob(b, dedupRecords, func() (*runtime.Job, runtime.Config) {
		return dedupJob(generator(b, dedupRecords, dedupRecords), &discardSink{}), keyedConfig(b)
	})
}

// BenchmarkKeyedCount10M is the native keyed count over the same input as
// BenchmarkDedup10M: the yardstick of a keyed job with one state entry per id.
func BenchmarkKeyedCount10M(b *testing.B) {
	op := native.Factory(count.Operator)
	runJob(b, dedupRecords, func() (*runtime.Job, runtime.Config) {
		return keyedJob(generator(b, dedupRecords, dedupRecords), op, &discardSink{}), keyedConfig(b)
	})
}

// BenchmarkKeyedCountNativeDLQ is BenchmarkKeyedCountNative under
// onFailure policy dlq: every batch runs as a transaction (write log, held
// emits), the price of isolating poison records.
func BenchmarkKeyedCountNativeDLQ(b *testing.B) {
	op := native.Factory(count.Operator)
	runJob(b, keyedRecords, func() (*runtime.Job, runtime.Config) {
		job := keyedJob(generator(b, keyedRecords, keyedKeys), op, &discardSink{})
		job.Operators[0].OnFailure = runtime.FailurePolicy{Action: runtime.FailDLQ}
		return job, keyedConfig(b)
	})
}

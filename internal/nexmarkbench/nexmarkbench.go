package nexmarkbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/examples/nexmark"
	"github.com/weirstream/weir/examples/nexmark/results"
	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/host/native"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/plugins/localfs"
	nexmarksource "github.com/weirstream/weir/plugins/nexmark"
	"github.com/weirstream/weir/plugins/pebble"
	"github.com/weirstream/weir/runtime"
)

// Defaults of Options.
const (
	DefaultParallelism        = 2
	DefaultCheckpointInterval = 10 * time.Second
)

// Options say which query to run and how.
type Options struct {
	// Query is the query's name: q0, q1, q2, q3, q4, q5, q7, q8 or q11.
	Query string
	// Events is the number of events to generate (at least 1).
	Events int64
	// Parallelism of the source (one generator split per subtask), of every
	// operator and of the sink (default DefaultParallelism).
	Parallelism int
	// CheckpointInterval is the time between checkpoints (default
	// DefaultCheckpointInterval).
	CheckpointInterval time.Duration
	// DataDir holds the run's checkpoints and Pebble state; it must not hold
	// an earlier run's. Empty: a temporary directory, removed afterwards.
	DataDir string
	// Generator is the generator's configuration; Events and Splits are set
	// from the fields above. The zero value means nexmark.DefaultConfig().
	Generator *nexmarksource.Config
	// WasmDir, when set, holds the built modules <stage>.wasm (what `make
	// wasm` writes to examples/nexmark); otherwise they are built from source
	// with the Go toolchain.
	WasmDir string
	// CacheDir keeps compiled Wasm code between runs (default: a directory
	// under os.TempDir()).
	CacheDir string
	// Native runs the operators in-process instead of as Wasm modules (to
	// measure what Wasm costs).
	Native bool
	// StateCacheBytes bounds the state cache of each keyed subtask (0: the
	// Pebble backend's default, 64 MiB), as `weir run --state-cache` does.
	StateCacheBytes int64
	// Collect keeps the canonical text of every committed result in
	// Result.Lines.
	Collect bool
	// Logger receives the engine's log (default: discarded).
	Logger *slog.Logger
}

// Result is what a run measured.
type Result struct {
	Query              string        `json:"query"`
	Events             int64         `json:"events"`
	Parallelism        int           `json:"parallelism"`
	CheckpointInterval time.Duration `json:"checkpointIntervalNanos"`
	Native             bool          `json:"native,omitempty"`
	// Elapsed is the wall time from the job's start to its last commit.
	Elapsed      time.Duration `json:"elapsedNanos"`
	EventsPerSec float64       `json:"eventsPerSec"`
	// EventsPerCPUSec is Events over the process's CPU time (user + system)
	// during the run: the throughput per core, which other load on the
	// machine disturbs less than EventsPerSec.
	EventsPerCPUSec float64 `json:"eventsPerCPUSec"`
	// Results counts the committed output records.
	Results     int64 `json:"results"`
	Checkpoints int64 `json:"checkpoints"`
	// PeakRSSBytes is the peak resident set size of the process that ran the
	// query (getrusage ru_maxrss): meaningful for a fresh process per query.
	PeakRSSBytes int64 `json:"peakRSSBytes"`
	// UserCPU and SystemCPU are the process's CPU time during the run.
	UserCPU   time.Duration `json:"userCPUNanos"`
	SystemCPU time.Duration `json:"systemCPUNanos"`
	// Lines are the canonical lines of the committed results, sorted (only
	// with Options.Collect).
	Lines []string `json:"-"`
}

// validate fills defaults into o and checks it.
func (o *Options) validate() (nexmark.Query, nexmarksource.Config, error) {
	q, err := nexmark.Lookup(o.Query)
	if err != nil {
		return q, nexmarksource.Config{}, err
	}
	if o.Events < 1 {
		return q, nexmarksource.Config{}, fmt.Errorf("nexmark bench: events %d: a benchmark run needs at least 1 event (it must end)", o.Events)
	}
	if o.Parallelism == 0 {
		o.Parallelism = DefaultParallelism
	}
	if o.Parallelism < 1 || o.Parallelism > runtime.DefaultMaxParallelism {
		return q, nexmarksource.Config{}, fmt.Errorf("nexmark bench: parallelism %d is outside 1..%d", o.Parallelism, runtime.DefaultMaxParallelism)
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.CheckpointInterval < 0 {
		return q, nexmarksource.Config{}, fmt.Errorf("nexmark bench: checkpoint interval %v is negative", o.CheckpointInterval)
	}
	if o.StateCacheBytes < 0 {
		return q, nexmarksource.Config{}, fmt.Errorf("nexmark bench: state cache of %d bytes is negative", o.StateCacheBytes)
	}
	gen := nexmarksource.DefaultConfig()
	if o.Generator != nil {
		gen = *o.Generator
	}
	gen.Events, gen.Splits = o.Events, o.Parallelism
	if gen.RateLimited {
		return q, gen, errors.New("nexmark bench: the generator is rate limited; a benchmark runs it as fast as it goes")
	}
	if err := gen.Validate(); err != nil {
		return q, gen, fmt.Errorf("nexmark bench: %w", err)
	}
	return q, gen, nil
}

// Run runs opts.Query to the end and reports what it measured. Unknown
// queries and inconsistent options are errors that say what is wrong; so is a
// run that fails or does not finish.
func Run(ctx context.Context, opts Options) (Result, error) {
	q, gen, err := opts.validate()
	if err != nil {
		return Result{}, err
	}
	src, err := nexmarksource.NewSourceFromConfig(gen)
	if err != nil {
		return Result{}, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "weir-nexmark-"); err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(dataDir)
	}
	store, err := localfs.New(filepath.Join(dataDir, "snapshots"))
	if err != nil {
		return Result{}, err
	}
	var operators func(nexmark.Stage) (runtime.OperatorFactory, error)
	if opts.Native {
		operators = func(s nexmark.Stage) (runtime.OperatorFactory, error) { return native.Factory(s.Operator), nil }
	} else {
		cacheDir := opts.CacheDir
		if cacheDir == "" {
			cacheDir = filepath.Join(os.TempDir(), "weir-nexmark-cache")
		}
		engine, err := host.NewEngine(ctx, host.Config{CacheDir: cacheDir, Logger: log})
		if err != nil {
			return Result{}, err
		}
		defer engine.Close(context.Background())
		operators = func(s nexmark.Stage) (runtime.OperatorFactory, error) {
			return loadModule(ctx, engine, opts.WasmDir, s)
		}
	}
	sink := &countingSink{collect: opts.Collect}
	job, err := q.Job(src, sink, nexmark.JobConfig{Parallelism: opts.Parallelism, CheckpointInterval: opts.CheckpointInterval, Operators: operators})
	if err != nil {
		return Result{}, err
	}
	cfg := runtime.Config{Store: store, State: pebble.Factory{}, WorkDir: filepath.Join(dataDir, "work"), Logger: log,
		StateCacheBytes: opts.StateCacheBytes}

	debug.FreeOSMemory() // setup garbage (module compilation) out of the way
	u0, s0 := cpuTimes()
	start := time.Now()
	res, err := runtime.Run(ctx, job, cfg)
	elapsed := time.Since(start)
	u1, s1 := cpuTimes()
	if err != nil {
		return Result{}, fmt.Errorf("nexmark bench: %s: %w", q.Name, err)
	}
	if !res.Finished {
		return Result{}, fmt.Errorf("nexmark bench: %s: the run stopped before its end (last checkpoint %d)", q.Name, res.LastCheckpoint)
	}
	if err := sink.err(); err != nil {
		return Result{}, fmt.Errorf("nexmark bench: %s: %w", q.Name, err)
	}
	r := Result{
		Query: q.Name, Events: opts.Events, Parallelism: opts.Parallelism, CheckpointInterval: opts.CheckpointInterval,
		Native: opts.Native, Elapsed: elapsed, EventsPerSec: float64(opts.Events) / elapsed.Seconds(),
		Results: sink.committedCount(), Checkpoints: res.LastCheckpoint, PeakRSSBytes: peakRSS(),
		UserCPU: u1 - u0, SystemCPU: s1 - s0,
	}
	if cpu := r.UserCPU + r.SystemCPU; cpu > 0 {
		r.EventsPerCPUSec = float64(opts.Events) / cpu.Seconds()
	}
	if opts.Collect {
		r.Lines = sink.lines()
	}
	return r, nil
}

// loadModule loads stage s's Wasm module: <wasmDir>/<stage>.wasm, or built
// from its source when wasmDir is empty.
func loadModule(ctx context.Context, engine *host.Engine, wasmDir string, s nexmark.Stage) (runtime.OperatorFactory, error) {
	path := filepath.Join(wasmDir, s.Name+".wasm")
	if wasmDir == "" {
		var err error
		if path, err = wasmbuild.Go(nexmark.WasmMain(s)); err != nil {
			return nil, err
		}
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read module of %s: %w (build the modules with `make wasm`, or leave the Wasm directory unset to build them from source)", s.Name, err)
	}
	return engine.Load(ctx, s.Name+".wasm", wasm, host.Limits{})
}

func cpuTimes() (user, system time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// peakRSS returns the process's peak resident set size in bytes.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return maxrssBytes(ru.Maxrss)
}

// RunProcess runs one query in a fresh process, the command at exe (a build
// of cmd/weir-nexmark), and returns the Result it printed, with PeakRSSBytes
// taken from the child's resource usage. Collect and Logger are not passed on
// (the child logs to its standard error, which RunProcess passes through to
// stderr when not nil).
func RunProcess(ctx context.Context, exe string, opts Options, stderr io.Writer) (Result, error) {
	args := []string{
		"-query", opts.Query, "-events", strconv.FormatInt(opts.Events, 10),
		"-parallelism", strconv.Itoa(opts.Parallelism), "-checkpoint-interval", opts.CheckpointInterval.String(),
	}
	if opts.DataDir != "" {
		args = append(args, "-data-dir", opts.DataDir)
	}
	if opts.WasmDir != "" {
		args = append(args, "-wasm-dir", opts.WasmDir)
	}
	if opts.CacheDir != "" {
		args = append(args, "-cache-dir", opts.CacheDir)
	}
	if opts.Native {
		args = append(args, "-native")
	}
	if opts.StateCacheBytes > 0 {
		args = append(args, "-state-cache", strconv.FormatInt(opts.StateCacheBytes, 10))
	}
	if g := opts.Generator; g != nil {
		args = append(args, "-seed", strconv.FormatUint(g.Seed, 10), "-events-per-second", strconv.FormatInt(g.EventsPerSecond, 10))
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return Result{}, fmt.Errorf("nexmark bench: %s %v: %w", exe, args, err)
	}
	var r Result
	if err := json.Unmarshal(out, &r); err != nil {
		return Result{}, fmt.Errorf("nexmark bench: %s printed %q, not a result: %w", exe, out, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSSBytes = maxrssBytes(ru.Maxrss)
	}
	return r, nil
}

// countingSink counts the records it commits and, when collect is set, keeps
// their canonical text. It is transactional like a real sink: a writer's
// records become visible when the checkpoint that pre-committed them
// completes, once, so Results and Lines are exactly what a run committed.
type countingSink struct {
	collect bool

	mu        sync.Mutex
	nextTxn   int64
	pending   map[int64]txn
	committed map[int64]bool
	count     int64
	out       []string
	failure   error
}

type txn struct {
	count int64
	lines []string
}

func (s *countingSink) OpenWriter(ctx context.Context, info runtime.SinkInfo) (runtime.SinkWriter, error) {
	return &countingWriter{s: s}, nil
}

// Commit makes the committables' transactions visible; committing one twice
// does nothing.
func (s *countingSink) Commit(ctx context.Context, checkpointID int64, committables [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range committables {
		if c == nil {
			continue
		}
		id, err := strconv.ParseInt(string(c), 10, 64)
		if err != nil {
			return fmt.Errorf("counting sink: bad committable %q", c)
		}
		if s.committed[id] {
			continue
		}
		t, ok := s.pending[id]
		if !ok {
			return fmt.Errorf("counting sink: transaction %d of checkpoint %d is neither pending nor committed", id, checkpointID)
		}
		delete(s.pending, id)
		if s.committed == nil {
			s.committed = map[int64]bool{}
		}
		s.committed[id] = true
		s.count += t.count
		s.out = append(s.out, t.lines...)
	}
	return nil
}

// Recover commits the restored checkpoint's committables and drops every
// other pending transaction.
func (s *countingSink) Recover(ctx context.Context, checkpointID int64, committables [][]byte) error {
	if err := s.Commit(ctx, checkpointID, committables); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.pending)
	return nil
}

func (s *countingSink) committedCount() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

func (s *countingSink) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.out)
	slices.Sort(out)
	return out
}

func (s *countingSink) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failure
}

type countingWriter struct {
	s   *countingSink
	cur txn
	buf []byte
}

// Write counts b's records and, when collecting, decodes them to text.
func (w *countingWriter) Write(ctx context.Context, b []byte) error {
	if !w.s.collect {
		w.cur.count += int64(abi.Count(b))
		return nil
	}
	r := abi.NewReader(b)
	for r.Next() {
		var err error
		w.buf, err = results.AppendText(w.buf[:0], r.Entry().Value)
		if err != nil {
			return fmt.Errorf("counting sink: record %d: %w", r.Index(), err)
		}
		w.cur.lines = append(w.cur.lines, string(w.buf))
		w.cur.count++
	}
	return r.Err()
}

// PreCommit ends the current transaction and returns its id.
func (w *countingWriter) PreCommit(ctx context.Context, checkpointID int64) ([]byte, error) {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextTxn++
	if s.pending == nil {
		s.pending = map[int64]txn{}
	}
	s.pending[s.nextTxn] = w.cur
	w.cur = txn{}
	return strconv.AppendInt(nil, s.nextTxn, 10), nil
}

func (w *countingWriter) Close() error { return nil }

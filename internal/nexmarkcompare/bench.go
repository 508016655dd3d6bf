package nexmarkcompare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/weirstream/weir/examples/nexmark"
	"github.com/weirstream/weir/internal/nexmarkbench"
)

// Defaults of BenchOptions.
const (
	// DefaultBenchEvents is long enough for the JVM's JIT to warm up: with
	// 2 M events a stateless Flink run lasts ~1.5 s, most of it in
	// interpreted and tier-1 code, and measures the warm-up rather than
	// Flink (docs/BENCHMARKS.md).
	DefaultBenchEvents = 10_000_000
	// DefaultRunTimeout bounds one engine run.
	DefaultRunTimeout = 30 * time.Minute
)

// maxReasonBytes bounds the failure reason a table cell shows.
const maxReasonBytes = 80

// BenchOptions say which queries to measure and how. Both engines get the
// same events (the generator's defaults and Events), parallelism and
// checkpoint interval.
type BenchOptions struct {
	// Queries to measure, in order (nil: every query of Weir's catalog).
	Queries []string
	// Events per run (0: DefaultBenchEvents).
	Events int64
	// Parallelism of every run (0: 2).
	Parallelism int
	// CheckpointInterval of every run (0: 10 s).
	CheckpointInterval time.Duration
	// Backends are the Flink state backends to run, in order (nil: RocksDB,
	// then Heap).
	Backends []Backend
	// Weir is the weir-nexmark binary (see BuildWeir).
	Weir string
	// WasmDir is passed to weir-nexmark -wasm-dir (empty: it builds the
	// modules from source).
	WasmDir string
	// StateCacheBytes is passed to weir-nexmark -state-cache (0: Weir's
	// default, 64 MiB per keyed subtask).
	StateCacheBytes int64
	Flink           Flink
	// RunTimeout bounds each engine run (0: DefaultRunTimeout).
	RunTimeout time.Duration
	// Progress, when not nil, receives one line per finished run.
	Progress io.Writer
	// WeirStderr, when not nil, receives weir-nexmark's standard error.
	WeirStderr io.Writer
}

// Measurement is one engine run.
type Measurement struct {
	EventsPerSec float64
	// EventsPerCPUSec is events over the process's CPU time during the job:
	// what one core does, which other load on the machine disturbs less.
	EventsPerCPUSec float64
	PeakRSSBytes    int64
	// Results counts the result records the run emitted.
	Results int64
	// StartupMs is what the run spent before the job and outside the measured
	// time: for Flink, the MiniCluster's start (0 for Weir).
	StartupMs float64
	// Err is why the run failed; the other fields are then meaningless.
	Err error
}

// Row is one query of the table.
type Row struct {
	Query string
	Weir  Measurement
	// Flink holds one measurement per backend, in BenchOptions.Backends order.
	Flink []Measurement
}

func (o *BenchOptions) defaults() error {
	if o.Queries == nil {
		o.Queries = nexmark.Names()
	}
	if err := checkQueries(o.Queries); err != nil {
		return err
	}
	if o.Events == 0 {
		o.Events = DefaultBenchEvents
	}
	if o.Parallelism == 0 {
		o.Parallelism = nexmarkbench.DefaultParallelism
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = nexmarkbench.DefaultCheckpointInterval
	}
	if o.Backends == nil {
		o.Backends = []Backend{RocksDB, Heap}
	}
	if o.RunTimeout == 0 {
		o.RunTimeout = DefaultRunTimeout
	}
	if o.Weir == "" {
		return errors.New("no weir-nexmark binary given (see BuildWeir)")
	}
	return checkRunParams(o.Events, o.Parallelism, o.CheckpointInterval, o.Backends)
}

// BuildWeir builds internal/nexmarkbench/cmd/weir-nexmark into dir and returns
// the binary's path. It runs `go build` in the module this package was built
// from.
func BuildWeir(ctx context.Context, dir string) (string, error) {
	exe := filepath.Join(dir, "weir-nexmark")
	root := filepath.Dir(filepath.Dir(nexmark.Dir())) // examples/nexmark -> the module root
	cmd := exec.CommandContext(ctx, "go", "build", "-o", exe, "./internal/nexmarkbench/cmd/weir-nexmark")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build weir-nexmark in %s: %w\n%s", root, err, out)
	}
	return exe, nil
}

// Bench measures every query of opts: Weir, then Flink with each backend, one
// run after the other, each in a fresh process. It returns an error only for
// inconsistent options; a failed run is recorded in its Measurement, and the
// others go on.
func Bench(ctx context.Context, opts BenchOptions) ([]Row, error) {
	if err := opts.defaults(); err != nil {
		return nil, fmt.Errorf("nexmark bench: %w", err)
	}
	if _, err := os.Stat(opts.Weir); err != nil {
		return nil, fmt.Errorf("nexmark bench: weir-nexmark binary: %w", err)
	}
	if err := opts.Flink.Available(); err != nil {
		return nil, fmt.Errorf("nexmark bench: %w", err)
	}
	var rows []Row
	for _, q := range opts.Queries {
		row := Row{Query: q}
		row.Weir = opts.runWeir(ctx, q)
		opts.progress(q, "weir", row.Weir)
		for _, b := range opts.Backends {
			m := opts.runFlink(ctx, q, b)
			opts.progress(q, "flink-"+string(b), m)
			row.Flink = append(row.Flink, m)
		}
		rows = append(rows, row)
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
	}
	return rows, nil
}

func (o *BenchOptions) runWeir(ctx context.Context, q string) Measurement {
	ctx, cancel := context.WithTimeout(ctx, o.RunTimeout)
	defer cancel()
	tail := &tailWriter{max: stderrTailBytes}
	var stderr io.Writer = tail
	if o.WeirStderr != nil {
		stderr = io.MultiWriter(tail, o.WeirStderr)
	}
	r, err := nexmarkbench.RunProcess(ctx, o.Weir, nexmarkbench.Options{
		Query: q, Events: o.Events, Parallelism: o.Parallelism, CheckpointInterval: o.CheckpointInterval, WasmDir: o.WasmDir,
		StateCacheBytes: o.StateCacheBytes,
	}, stderr)
	if err != nil {
		return Measurement{Err: timeoutOr(ctx, o.RunTimeout, fmt.Errorf("weir %s: %s (%w)%s", q, tail.reason("weir-nexmark: "), err, tail.quote()))}
	}
	if r.Query != q || r.Events != o.Events || r.EventsPerSec <= 0 {
		return Measurement{Err: fmt.Errorf("weir-nexmark reported query %q, %d events, %v events/s for a run of %s on %d events", r.Query, r.Events, r.EventsPerSec, q, o.Events)}
	}
	return Measurement{EventsPerSec: r.EventsPerSec, EventsPerCPUSec: r.EventsPerCPUSec, PeakRSSBytes: r.PeakRSSBytes, Results: r.Results}
}

func (o *BenchOptions) runFlink(ctx context.Context, q string, b Backend) Measurement {
	ctx, cancel := context.WithTimeout(ctx, o.RunTimeout)
	defer cancel()
	r, err := o.Flink.Run(ctx, FlinkOptions{Query: q, Events: o.Events, Parallelism: o.Parallelism, CheckpointInterval: o.CheckpointInterval, Backend: b})
	if err != nil {
		return Measurement{Err: timeoutOr(ctx, o.RunTimeout, err)}
	}
	return Measurement{EventsPerSec: r.EventsPerSec, EventsPerCPUSec: r.EventsPerCPUSec, PeakRSSBytes: r.ChildPeakRSSBytes, Results: r.Results,
		StartupMs: r.ClusterStartMs}
}

// timeoutOr names the timeout when ctx ran out, and returns err otherwise.
func timeoutOr(ctx context.Context, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %v", timeout)
	}
	return err
}

func (o *BenchOptions) progress(q, engine string, m Measurement) {
	if o.Progress == nil {
		return
	}
	if m.Err != nil {
		fmt.Fprintf(o.Progress, "%-4s %-13s failed: %v\n", q, engine, m.Err)
		return
	}
	startup := ""
	if m.StartupMs > 0 {
		startup = fmt.Sprintf(" (after a cluster start of %.0f ms)", m.StartupMs)
	}
	fmt.Fprintf(o.Progress, "%-4s %-13s %s events/s, %s events/CPU-s, peak RSS %s, %d results%s\n", q, engine,
		formatRate(m.EventsPerSec), formatRate(m.EventsPerCPUSec), formatBytes(m.PeakRSSBytes), m.Results, startup)
}

// WriteTable writes rows as a Markdown table: per query, Weir's events/s,
// each Flink backend's events/s and Weir's ratio to it, then the peak RSS of
// each engine. A failed run shows "failed: <reason>", and no ratio is
// computed from it. Below the table it notes every query whose engines
// emitted different numbers of results.
func WriteTable(w io.Writer, rows []Row, backends []Backend) error {
	header := []string{"query", "Weir events/s"}
	for _, b := range backends {
		header = append(header, "Flink "+backendLabel(b)+" events/s", "Weir / Flink "+backendLabel(b))
	}
	header = append(header, "Weir peak RSS")
	for _, b := range backends {
		header = append(header, "Flink "+backendLabel(b)+" peak RSS")
	}
	cells := [][]string{header}
	var notes []string
	for _, r := range rows {
		if len(r.Flink) != len(backends) {
			return fmt.Errorf("nexmark table: row %s has %d flink runs for %d backends", r.Query, len(r.Flink), len(backends))
		}
		line := []string{r.Query, rateCell(r.Weir, r.Weir.EventsPerSec)}
		for _, f := range r.Flink {
			line = append(line, rateCell(f, f.EventsPerSec), ratioCell(r.Weir, f, r.Weir.EventsPerSec, f.EventsPerSec))
		}
		line = append(line, rssCell(r.Weir))
		for _, f := range r.Flink {
			line = append(line, rssCell(f))
		}
		cells = append(cells, line)
		for i, f := range r.Flink {
			if r.Weir.Err == nil && f.Err == nil && f.Results != r.Weir.Results {
				notes = append(notes, fmt.Sprintf("%s: Weir emitted %d results, Flink %s %d", r.Query, r.Weir.Results, backendLabel(backends[i]), f.Results))
			}
		}
	}
	var b strings.Builder
	writeMarkdown(&b, cells)
	for _, n := range notes {
		fmt.Fprintf(&b, "\nNB: result counts differ: %s", n)
	}
	if len(notes) > 0 {
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCPUTable writes rows as a Markdown table of events per CPU second
// (user + system time of each process during its job) and Weir's ratio to
// each Flink backend: the throughput per core, which load from other
// processes on the machine disturbs less than events/s.
func WriteCPUTable(w io.Writer, rows []Row, backends []Backend) error {
	header := []string{"query", "Weir events/CPU-s"}
	for _, b := range backends {
		header = append(header, "Flink "+backendLabel(b)+" events/CPU-s", "Weir / Flink "+backendLabel(b))
	}
	cells := [][]string{header}
	for _, r := range rows {
		if len(r.Flink) != len(backends) {
			return fmt.Errorf("nexmark table: row %s has %d flink runs for %d backends", r.Query, len(r.Flink), len(backends))
		}
		line := []string{r.Query, rateCell(r.Weir, r.Weir.EventsPerCPUSec)}
		for _, f := range r.Flink {
			line = append(line, rateCell(f, f.EventsPerCPUSec), ratioCell(r.Weir, f, r.Weir.EventsPerCPUSec, f.EventsPerCPUSec))
		}
		cells = append(cells, line)
	}
	var b strings.Builder
	writeMarkdown(&b, cells)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMarkdown writes cells (the first row is the header) as a Markdown
// table, the first column left-aligned and the others right-aligned.
func writeMarkdown(b *strings.Builder, cells [][]string) {
	widths := make([]int, len(cells[0]))
	for _, line := range cells {
		for i, c := range line {
			widths[i] = max(widths[i], len(c))
		}
	}
	writeLine := func(line []string) {
		b.WriteString("|")
		for i, c := range line {
			if i == 0 {
				fmt.Fprintf(b, " %-*s |", widths[i], c)
			} else {
				fmt.Fprintf(b, " %*s |", widths[i], c)
			}
		}
		b.WriteString("\n")
	}
	writeLine(cells[0])
	b.WriteString("|")
	for i, n := range widths {
		if i == 0 {
			b.WriteString(" " + strings.Repeat("-", n) + " |")
		} else {
			b.WriteString(" " + strings.Repeat("-", n-1) + ": |")
		}
	}
	b.WriteString("\n")
	for _, line := range cells[1:] {
		writeLine(line)
	}
}

func backendLabel(b Backend) string {
	if b == RocksDB {
		return "RocksDB"
	}
	return string(b)
}

// rateCell is rate, or the failure of m.
func rateCell(m Measurement, rate float64) string {
	if m.Err != nil {
		return failedCell(m.Err)
	}
	return formatRate(rate)
}

// ratioCell is weirRate / flinkRate, or "-" when either run failed.
func ratioCell(weir, flink Measurement, weirRate, flinkRate float64) string {
	if weir.Err != nil || flink.Err != nil || weirRate <= 0 || flinkRate <= 0 {
		return "-"
	}
	return strconv.FormatFloat(weirRate/flinkRate, 'f', 2, 64) + "x"
}

func rssCell(m Measurement) string {
	if m.Err != nil {
		return "-"
	}
	return formatBytes(m.PeakRSSBytes)
}

// failedCell is "failed: " and the first line of err, shortened, with the
// table's separator escaped.
func failedCell(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return "failed: " + strings.ReplaceAll(truncate(msg, maxReasonBytes), "|", `\|`)
}

// formatRate writes events/s as an integer with thousands separators.
func formatRate(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatBytes writes a byte count in MiB.
func formatBytes(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 0, 64) + " MiB"
}

// CheckBenchOptions reports what is wrong with opts (unknown or repeated
// queries or backends, too few events, a parallelism or checkpoint interval
// an engine rejects) before anything runs. Zero fields take their defaults;
// an empty Weir binary is allowed here (the command builds one).
func CheckBenchOptions(opts BenchOptions) error {
	if opts.Weir == "" {
		opts.Weir = "weir-nexmark"
	}
	return opts.defaults()
}

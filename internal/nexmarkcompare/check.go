package nexmarkcompare

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weirstream/weir/examples/nexmark"
	"github.com/weirstream/weir/examples/nexmark/reference"
	nexmarksource "github.com/weirstream/weir/plugins/nexmark"
)

// Defaults of CheckOptions: the configuration of Weir's own equality test
// (examples/nexmark): 100 000 events at 1000 events per second of event time
// span 100 s, ten q7 windows and some fifty q5 windows.
const (
	DefaultCheckEvents          = 100_000
	DefaultCheckSeed            = 7
	DefaultCheckEventsPerSecond = 1000
	// DefaultCheckInterval is short so that checkpoints happen during the run.
	DefaultCheckInterval = 500 * time.Millisecond
	// DefaultMaxDiffLines bounds the differences a mismatch reports.
	DefaultMaxDiffLines = 10
)

// maxLineBytes bounds a line of an output file.
const maxLineBytes = 1 << 20

// CheckOptions say which queries to check and how.
type CheckOptions struct {
	// Queries are the queries to check (nil: all of Weir's catalog).
	Queries []string
	// Events, Seed and EventsPerSecond configure the generator (0: the
	// DefaultCheck* values).
	Events          int64
	Seed            uint64
	EventsPerSecond int64
	// Parallelism of every engine run (0: 2).
	Parallelism int
	// CheckpointInterval of every engine run (0: DefaultCheckInterval).
	CheckpointInterval time.Duration
	// Backends are the Flink state backends to check (nil: RocksDB).
	Backends []Backend
	Flink    Flink
	// Weir, when set, is a weir-nexmark binary: Weir's output is checked too.
	Weir string
	// WorkDir holds the output files (default: a temporary directory,
	// removed afterwards).
	WorkDir string
	// MaxDiffLines bounds the differing lines a mismatch lists (0:
	// DefaultMaxDiffLines).
	MaxDiffLines int
	// Progress, when not nil, receives one line per finished run.
	Progress io.Writer
}

// CheckResult is the outcome of one query on one engine.
type CheckResult struct {
	Query string
	// Engine is "weir", or "flink-rocksdb" / "flink-heap".
	Engine string
	// Want is the number of reference lines; Got the engine's.
	Want, Got int
	// Diff describes the first differences; empty when the lines are equal.
	Diff string
	// Err is a run that failed (then Diff is empty).
	Err error
}

// OK reports whether the engine ran and produced exactly the reference lines.
func (r CheckResult) OK() bool { return r.Err == nil && r.Diff == "" }

func (o *CheckOptions) defaults() error {
	if o.Queries == nil {
		o.Queries = nexmark.Names()
	}
	if err := checkQueries(o.Queries); err != nil {
		return err
	}
	if o.Events == 0 {
		o.Events = DefaultCheckEvents
	}
	if o.Seed == 0 {
		o.Seed = DefaultCheckSeed
	}
	if o.EventsPerSecond == 0 {
		o.EventsPerSecond = DefaultCheckEventsPerSecond
	}
	if o.Parallelism == 0 {
		o.Parallelism = 2
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckInterval
	}
	if o.Backends == nil {
		o.Backends = []Backend{RocksDB}
	}
	if o.MaxDiffLines == 0 {
		o.MaxDiffLines = DefaultMaxDiffLines
	}
	return checkRunParams(o.Events, o.Parallelism, o.CheckpointInterval, o.Backends)
}

// checkQueries rejects an empty list, unknown queries and repeated ones.
func checkQueries(queries []string) error {
	if len(queries) == 0 {
		return errors.New("no query chosen")
	}
	seen := map[string]bool{}
	for _, q := range queries {
		if _, err := nexmark.Lookup(q); err != nil {
			return err
		}
		if seen[q] {
			return fmt.Errorf("query %s is listed twice", q)
		}
		seen[q] = true
	}
	return nil
}

// checkRunParams rejects parameters that no engine run accepts.
func checkRunParams(events int64, parallelism int, interval time.Duration, backends []Backend) error {
	if events < 1 {
		return fmt.Errorf("events %d: a run needs at least 1 event (it must end)", events)
	}
	if parallelism < 1 || parallelism > maxParallelism {
		return fmt.Errorf("parallelism %d is outside 1..%d (the key groups of both engines)", parallelism, maxParallelism)
	}
	if interval < minCheckpointInterval {
		return fmt.Errorf("checkpoint interval %v is shorter than Flink's minimum of %v", interval, minCheckpointInterval)
	}
	return checkBackends(backends)
}

// maxParallelism is the highest parallelism of a run: the number of key
// groups in both engines (Weir's runtime.DefaultMaxParallelism, Flink's
// default maxParallelism).
const maxParallelism = 128

// checkBackends rejects unknown and repeated Flink state backends.
func checkBackends(backends []Backend) error {
	seen := map[Backend]bool{}
	for _, b := range backends {
		if b != RocksDB && b != Heap {
			return fmt.Errorf("flink state backend %q is not %s or %s", b, RocksDB, Heap)
		}
		if seen[b] {
			return fmt.Errorf("flink state backend %s is listed twice", b)
		}
		seen[b] = true
	}
	return nil
}

// generatorConfig returns the generator configuration of a check.
func (o *CheckOptions) generatorConfig() nexmarksource.Config {
	cfg := nexmarksource.DefaultConfig()
	cfg.Seed = o.Seed
	cfg.EventsPerSecond = o.EventsPerSecond
	cfg.Events = o.Events
	cfg.Splits = o.Parallelism
	return cfg
}

// Check runs every query of opts through Flink (and Weir, when opts.Weir is
// set) with an output file, and compares the sorted lines with the
// reference implementation's. It returns one CheckResult per query and
// engine, and an error when opts are inconsistent or the reference cannot be
// computed; runs that fail or differ are in the results (see
// CheckResult.OK), and Check goes on with the other queries.
func Check(ctx context.Context, opts CheckOptions) ([]CheckResult, error) {
	if err := opts.defaults(); err != nil {
		return nil, fmt.Errorf("nexmark check: %w", err)
	}
	gen, err := nexmarksource.NewGenerator(opts.generatorConfig())
	if err != nil {
		return nil, fmt.Errorf("nexmark check: %w", err)
	}
	ev, err := reference.Generate(gen, opts.Events)
	if err != nil {
		return nil, fmt.Errorf("nexmark check: reference events: %w", err)
	}
	dir := opts.WorkDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "weir-nexmark-check-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	var out []CheckResult
	for _, q := range opts.Queries {
		want, err := reference.Run(q, ev)
		if err != nil {
			return out, fmt.Errorf("nexmark check: %w", err)
		}
		for _, b := range opts.Backends {
			file := filepath.Join(dir, q+"-flink-"+string(b)+".txt")
			_, runErr := opts.Flink.Run(ctx, FlinkOptions{
				Query: q, Events: opts.Events, Parallelism: opts.Parallelism, CheckpointInterval: opts.CheckpointInterval,
				Backend: b, Seed: opts.Seed, EventsPerSecond: opts.EventsPerSecond, Output: file,
			})
			out = append(out, opts.compare(q, "flink-"+string(b), want, file, runErr))
		}
		if opts.Weir != "" {
			file := filepath.Join(dir, q+"-weir.txt")
			out = append(out, opts.compare(q, "weir", want, file, opts.runWeir(ctx, q, file)))
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}

// compare reads an engine's output file and compares it with want.
func (o *CheckOptions) compare(query, engine string, want []string, file string, runErr error) CheckResult {
	r := CheckResult{Query: query, Engine: engine, Want: len(want), Err: runErr}
	if runErr == nil {
		got, err := readLines(file)
		if err != nil {
			r.Err = err
		} else {
			slices.Sort(got)
			r.Got = len(got)
			r.Diff = Diff(want, got, o.MaxDiffLines)
		}
	}
	if o.Progress != nil {
		fmt.Fprintln(o.Progress, r.Summary())
	}
	return r
}

// Summary is one line: the query, the engine and the verdict.
func (r CheckResult) Summary() string {
	switch {
	case r.Err != nil:
		return fmt.Sprintf("FAIL %-4s %-13s run failed: %v", r.Query, r.Engine, r.Err)
	case r.Diff != "":
		return fmt.Sprintf("FAIL %-4s %-13s %d lines, reference %d: %v\n%s", r.Query, r.Engine, r.Got, r.Want, errFailed, r.Diff)
	}
	return fmt.Sprintf("ok   %-4s %-13s %d lines equal to the reference", r.Query, r.Engine, r.Got)
}

// runWeir runs the weir-nexmark binary of o on query with an output file.
func (o *CheckOptions) runWeir(ctx context.Context, query, output string) error {
	args := []string{
		"-query", query, "-events", strconv.FormatInt(o.Events, 10), "-parallelism", strconv.Itoa(o.Parallelism),
		"-checkpoint-interval", o.CheckpointInterval.String(), "-seed", strconv.FormatUint(o.Seed, 10),
		"-events-per-second", strconv.FormatInt(o.EventsPerSecond, 10), "-output", output,
	}
	cmd := exec.CommandContext(ctx, o.Weir, args...)
	tail := &tailWriter{max: stderrTailBytes}
	cmd.Stderr = tail
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("weir %s: %s (%w)\ncommand: %s %s%s", query, tail.reason("weir-nexmark: "), err, o.Weir, strings.Join(args, " "), tail.quote())
	}
	return nil
}

// readLines returns the lines of file, without their newlines.
func readLines(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return lines, nil
}

// Diff compares two sorted multisets of lines and returns "" when they are
// equal; otherwise up to max of the lines that only want has ("- ") or only
// got has ("+ "), in order, and the number of each.
func Diff(want, got []string, max int) string {
	var b strings.Builder
	missing, extra, shown := 0, 0, 0
	show := func(sign, line string) {
		if shown < max {
			fmt.Fprintf(&b, "  %s %s\n", sign, truncate(line, 300))
			shown++
		}
	}
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case j == len(got) || (i < len(want) && want[i] < got[j]):
			missing++
			show("-", want[i])
			i++
		case i == len(want) || got[j] < want[i]:
			extra++
			show("+", got[j])
			j++
		default:
			i++
			j++
		}
	}
	if missing == 0 && extra == 0 {
		return ""
	}
	return fmt.Sprintf("  %d lines only in the reference (-), %d only in the engine's output (+); the first %d:\n%s", missing, extra, shown, b.String())
}

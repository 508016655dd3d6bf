package nexmarkcompare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weirstream/weir/examples/nexmark"
)

// Backend is a Flink state backend.
type Backend string

// The state backends the Flink side runs with.
const (
	// RocksDB is EmbeddedRocksDBStateBackend, with incremental checkpoints.
	RocksDB Backend = "rocksdb"
	// Heap is HashMapStateBackend: state as objects on the JVM heap.
	Heap Backend = "heap"
)

// minCheckpointInterval is the shortest checkpoint interval Flink accepts.
const minCheckpointInterval = 10 * time.Millisecond

// stderrTailBytes bounds how much of a child's standard error an error
// message quotes.
const stderrTailBytes = 4 << 10

// DefaultJVMArgs are the JVM options of a Flink run: a 2 GiB heap, enough
// for every query at the event counts the benchmark uses.
var DefaultJVMArgs = []string{"-Xmx2g"}

// Flink says how to start the Flink side: a JVM running the jar that
// examples/nexmark/flink builds. The zero value uses "java" from the PATH,
// DefaultJar and DefaultJVMArgs.
type Flink struct {
	// Java is the java command (default "java", looked up in the PATH).
	Java string
	// Jar is the path of weir-nexmark-flink.jar (default DefaultJar()).
	Jar string
	// JVMArgs are the JVM's options (nil: DefaultJVMArgs).
	JVMArgs []string
	// Stderr, when not nil, receives the JVM's standard error as it runs.
	Stderr io.Writer
}

// DefaultJar returns where `mvn package` in examples/nexmark/flink writes the
// jar, in the source tree this binary was built from.
func DefaultJar() string {
	return filepath.Join(FlinkProjectDir(), "target", "weir-nexmark-flink.jar")
}

// FlinkProjectDir returns the directory of the Flink Maven project.
func FlinkProjectDir() string { return filepath.Join(nexmark.Dir(), "flink") }

func (f Flink) java() string {
	if f.Java == "" {
		return "java"
	}
	return f.Java
}

func (f Flink) jar() string {
	if f.Jar == "" {
		return DefaultJar()
	}
	return f.Jar
}

func (f Flink) jvmArgs() []string {
	if f.JVMArgs == nil {
		return DefaultJVMArgs
	}
	return f.JVMArgs
}

// Available reports why the Flink side cannot run, or nil when it can: the
// java command must be found, the jar must exist, and (for DefaultJar) no
// file it is built from may be newer than it: a stale jar would run old code.
func (f Flink) Available() error {
	if _, err := exec.LookPath(f.java()); err != nil {
		return fmt.Errorf("java not found (%w); install a Java 17 JDK", err)
	}
	jar := f.jar()
	st, err := os.Stat(jar)
	if err != nil {
		return fmt.Errorf("flink jar %s: %w; build it with `make nexmark-flink-check` or `mvn -q -B package` in %s", jar, err, FlinkProjectDir())
	}
	if f.Jar == "" {
		if newer, err := newestSource(FlinkProjectDir()); err == nil && newer.t.After(st.ModTime()) {
			return fmt.Errorf("flink jar %s is older than %s; rebuild it with `mvn -q -B package` in %s", jar, newer.path, FlinkProjectDir())
		}
	}
	return nil
}

type sourceFile struct {
	path string
	t    time.Time
}

// newestSource returns the most recently modified of the files the jar is
// built from: pom.xml and everything under src/main.
func newestSource(dir string) (sourceFile, error) {
	var newest sourceFile
	note := func(path string, info fs.FileInfo) {
		if info.ModTime().After(newest.t) {
			newest = sourceFile{path, info.ModTime()}
		}
	}
	pom := filepath.Join(dir, "pom.xml")
	info, err := os.Stat(pom)
	if err != nil {
		return newest, err
	}
	note(pom, info)
	err = filepath.WalkDir(filepath.Join(dir, "src", "main"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		note(path, info)
		return nil
	})
	return newest, err
}

// CopyJar copies the jar into dir and returns f running the copy, so that a
// rebuild of the jar during a long benchmark or check cannot change or break
// the runs that follow.
func (f Flink) CopyJar(dir string) (Flink, error) {
	src, err := os.Open(f.jar())
	if err != nil {
		return f, err
	}
	defer src.Close()
	dst := filepath.Join(dir, filepath.Base(f.jar()))
	out, err := os.Create(dst)
	if err != nil {
		return f, err
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return f, fmt.Errorf("copy %s: %w", f.jar(), err)
	}
	if err := out.Close(); err != nil {
		return f, err
	}
	f.Jar = dst
	return f, nil
}

// FlinkOptions are the options of one Flink run.
type FlinkOptions struct {
	Query              string
	Events             int64
	Parallelism        int
	CheckpointInterval time.Duration
	Backend            Backend
	// Seed and EventsPerSecond configure the generator (0: its defaults, 1
	// and 10 000).
	Seed            uint64
	EventsPerSecond int64
	// Output, when set, is the file the run writes its sorted canonical
	// result lines to.
	Output string
	// DataDir holds the run's checkpoints and RocksDB files (default: a
	// temporary directory the JVM removes).
	DataDir string
}

// FlinkResult is the JSON line the Flink main prints, plus the peak RSS the
// parent saw.
type FlinkResult struct {
	Engine               string  `json:"engine"`
	Query                string  `json:"query"`
	Events               int64   `json:"events"`
	Parallelism          int     `json:"parallelism"`
	Backend              Backend `json:"backend"`
	CheckpointIntervalMs int64   `json:"checkpointIntervalMs"`
	// ElapsedMs is the job's wall time: from its submission to the started
	// MiniCluster to its end.
	ElapsedMs       float64 `json:"elapsedMs"`
	EventsPerSec    float64 `json:"eventsPerSec"`
	CPUMs           float64 `json:"cpuMs"`
	EventsPerCPUSec float64 `json:"eventsPerCpuSec"`
	// ClusterStartMs is the MiniCluster's start, before the job.
	ClusterStartMs float64 `json:"clusterStartMs"`
	Results        int64   `json:"results"`
	Checkpoints    int64   `json:"checkpoints"`
	// PeakRSSBytes is the JVM's VmHWM, which it read itself at its end.
	PeakRSSBytes int64  `json:"peakRssBytes"`
	FlinkVersion string `json:"flinkVersion"`
	JavaVersion  string `json:"javaVersion"`
	// MaxHeapBytes is the JVM's maximum heap (-Xmx).
	MaxHeapBytes int64 `json:"maxHeapBytes"`
	// ChildPeakRSSBytes is the JVM process's ru_maxrss, as its parent saw it.
	ChildPeakRSSBytes int64 `json:"-"`
}

// args returns the command line of the Flink main for o.
func (o FlinkOptions) args() []string {
	args := []string{
		"-query", o.Query,
		"-events", strconv.FormatInt(o.Events, 10),
		"-parallelism", strconv.Itoa(o.Parallelism),
		"-checkpoint-interval", o.CheckpointInterval.String(),
		"-backend", string(o.Backend),
	}
	if o.Seed != 0 {
		args = append(args, "-seed", strconv.FormatUint(o.Seed, 10))
	}
	if o.EventsPerSecond != 0 {
		args = append(args, "-events-per-second", strconv.FormatInt(o.EventsPerSecond, 10))
	}
	if o.Output != "" {
		args = append(args, "-output", o.Output)
	}
	if o.DataDir != "" {
		args = append(args, "-data-dir", o.DataDir)
	}
	return args
}

// Run runs one query in a fresh JVM and returns what it printed. A run that
// exits with an error, prints anything but one JSON result, or reports other
// parameters than it was given is an error that quotes the end of the JVM's
// standard error.
func (f Flink) Run(ctx context.Context, o FlinkOptions) (FlinkResult, error) {
	args := append(append(append([]string(nil), f.jvmArgs()...), "-jar", f.jar()), o.args()...)
	cmd := exec.CommandContext(ctx, f.java(), args...)
	var stdout bytes.Buffer
	tail := &tailWriter{max: stderrTailBytes}
	cmd.Stdout = &stdout
	cmd.Stderr = tail
	if f.Stderr != nil {
		cmd.Stderr = io.MultiWriter(tail, f.Stderr)
	}
	what := fmt.Sprintf("flink %s (%s)", o.Query, o.Backend)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return FlinkResult{}, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return FlinkResult{}, fmt.Errorf("%s: %s (%w)\ncommand: %s %s%s", what, tail.reason("nexmark-flink: "), err, f.java(), strings.Join(args, " "), tail.quote())
	}
	var r FlinkResult
	out := bytes.TrimSpace(stdout.Bytes())
	if bytes.Count(out, []byte("\n")) != 0 {
		return r, fmt.Errorf("%s: printed %d lines, want one JSON result: %q", what, bytes.Count(out, []byte("\n"))+1, truncate(string(out), 512))
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("%s: printed %q, not a result: %w", what, truncate(string(out), 512), err)
	}
	if r.Engine != "flink" || r.Query != o.Query || r.Events != o.Events || r.Parallelism != o.Parallelism || r.Backend != o.Backend ||
		r.CheckpointIntervalMs != o.CheckpointInterval.Milliseconds() {
		return r, fmt.Errorf("%s: the result is of another run (engine %q, query %q, events %d, parallelism %d, backend %q, checkpoint interval %d ms); is the jar stale?",
			what, r.Engine, r.Query, r.Events, r.Parallelism, r.Backend, r.CheckpointIntervalMs)
	}
	if r.ElapsedMs <= 0 || r.EventsPerSec <= 0 {
		return r, fmt.Errorf("%s: the result has no elapsed time (elapsedMs %v)", what, r.ElapsedMs)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.ChildPeakRSSBytes = ru.Maxrss * 1024 // Linux: KiB
	}
	return r, nil
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	max int
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

// reason returns the last kept line that starts with prefix, without it: the
// message a failed command gave. Without one, it returns the last non-empty
// line, shortened, or "failed" when there is none.
func (t *tailWriter) reason(prefix string) string {
	lines := strings.Split(string(t.buf), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(lines[i], prefix); ok {
			return strings.TrimSpace(rest)
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return truncate(l, maxReasonBytes)
		}
	}
	return "failed"
}

// quote returns the kept text as the end of an error message ("" if none).
func (t *tailWriter) quote() string {
	s := strings.TrimSpace(string(t.buf))
	if s == "" {
		return ""
	}
	return "; standard error ends with:\n" + s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// errFailed is wrapped by Check's errors when an engine's lines differ from
// the reference.
var errFailed = errors.New("results differ from the reference")

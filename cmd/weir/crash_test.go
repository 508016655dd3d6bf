package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/plugins/localfs"
	"github.com/weirstream/weir/runtime"
)

// buildWeir builds this command into a temporary directory.
func buildWeir(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "weir")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// crashSpec is the windowcount example with a rate-limited generator (so that a
// run takes seconds and can be killed in the middle) and frequent checkpoints.
const crashSpec = `name: crash
parallelism: 2
checkpoint: {interval: 200ms}
sources:
  - name: events
    kind: datagen
    watermark: {outOfOrderness: 0s}
    options: {seed: 11, count: 360000, splits: 4, keys: 50, valueBytes: 32, timeStep: 10, rate: 30000}
operators:
  - name: window
    module: %s
    inputs: [{from: events, partition: keyBy}]
sinks:
  - name: out
    kind: file
    parallelism: 2
    from: window
    options: {path: out, format: keyvalue}
`

// committed returns the sorted lines of the file sink's committed files.
func committed(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "out", "part-*"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
	}
	sort.Strings(lines)
	return lines
}

func setupJob(t *testing.T, wasm string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), fmt.Appendf(nil, crashSpec, wasm), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// weirRun returns the command that runs the job in dir, with the compiled-module
// cache in cacheDir (shared, so that only the first run compiles).
func weirRun(bin, dir, cacheDir string) *exec.Cmd {
	// NB: debug logs say "checkpoint complete" (waitCheckpoint).
	cmd := exec.Command(bin, "run", "--progress", "0", "--log-level", "debug", "--cache-dir", cacheDir, "--data-dir", filepath.Join(dir, "data"), filepath.Join(dir, "job.yaml"))
	cmd.Dir = dir
	return cmd
}

// startRun starts cmd and returns a channel closed once the job runs (its
// subtasks are built and restored), the channel of its exit, and its stderr.
func startRun(t testing.TB, cmd *exec.Cmd) (running <-chan struct{}, done <-chan error, stderr *syncBuffer) {
	t.Helper()
	stderr = &syncBuffer{}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	run, exit := make(chan struct{}), make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		seen := false
		for sc.Scan() {
			stderr.WriteLine(sc.Text())
			if !seen && strings.Contains(sc.Text(), "job running") {
				seen = true
				close(run)
			}
		}
		exit <- cmd.Wait()
	}()
	return run, exit, stderr
}

// waitCheckpoint waits until the run whose stderr is stderr has completed a
// checkpoint, or has ended (false).
func waitCheckpoint(stderr *syncBuffer, done <-chan error) (bool, error) {
	for !strings.Contains(stderr.String(), "checkpoint complete") {
		select {
		case err := <-done:
			return false, err
		case <-time.After(10 * time.Millisecond):
		}
	}
	return true, nil
}

// syncBuffer collects lines from one goroutine for another.
type syncBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *syncBuffer) WriteLine(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, s)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// uninterruptedRun builds weir and the windowed-count module, runs the crash
// job once without interruption and returns the binary, the module, the
// compilation cache the runs share and the lines that run committed: what
// every interrupted run must commit too.
func uninterruptedRun(t *testing.T) (bin, wasm, cache string, want []string) {
	t.Helper()
	bin = buildWeir(t)
	wasm, err := filepath.Abs(wasmbuild.MustGo(t, "../../examples/windowcount/window/wasm"))
	if err != nil {
		t.Fatal(err)
	}
	cache = t.TempDir()
	ref := setupJob(t, wasm)
	if out, err := weirRun(bin, ref, cache).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	return bin, wasm, cache, committed(t, ref)
}

// TestCrashRecovery is the real-process crash test: it runs a stateful job as a
// child `weir run`, kills it with SIGKILL at random moments (at least 10 times),
// reruns it each time with the same data directory, and checks that the
// committed output equals that of an uninterrupted run: nothing lost, nothing
// duplicated.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes for tens of seconds")
	}
	bin, wasm, cache, want := uninterruptedRun(t)
	if len(want) < 1000 {
		t.Fatalf("the uninterrupted run committed only %d lines", len(want))
	}

	// The generator is rate-limited per run (30 000 records/s), so a run killed
	// within maxKillDelay of starting has read at most 24 000 of the 360 000
	// records: the job cannot end before the last kill, and every kill hits a
	// running job.
	const (
		minKills     = 10
		maxKillDelay = 800 * time.Millisecond
	)
	seed := time.Now().UnixNano()
	dir := setupJob(t, wasm)
	restores := restoredRuns(killRuns(t, seed, minKills, maxKillDelay, func(int) *exec.Cmd { return weirRun(bin, dir, cache) }))
	out, err := weirRun(bin, dir, cache).CombinedOutput()
	if err != nil {
		t.Fatalf("seed %d: final run failed: %v\n%s", seed, err, out)
	}
	if !strings.Contains(string(out), "crash finished") {
		t.Fatalf("seed %d: the final run did not finish the job:\n%s", seed, out)
	}
	// Kills that all land before the first checkpoint would test nothing.
	if restores < minKills/2 {
		t.Fatalf("seed %d: only %d of %d killed runs restored a checkpoint", seed, restores, minKills)
	}
	kills := minKills
	got := committed(t, dir)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("seed %d: after %d kills the committed output differs from an uninterrupted run: %s", seed, kills, lineDiff(got, want))
	}
	t.Logf("seed %d: %d kills (%d runs restored a checkpoint), %d committed lines identical to the uninterrupted run", seed, kills, restores, len(got))
}

// killRuns runs newRun(kill) for kill = 1..kills and kills each run with
// SIGKILL at a random moment (from the seed) within maxKillDelay of its start;
// every other run only after its first checkpoint, so that the next one
// restores one however slow the machine is. It returns what each run did.
func killRuns(t *testing.T, seed int64, kills int, maxKillDelay time.Duration, newRun func(kill int) *exec.Cmd) []killedRun {
	t.Helper()
	var runs []killedRun
	rng := rand.New(rand.NewSource(seed))
	for kill := 1; kill <= kills; kill++ {
		cmd := newRun(kill)
		running, done, stderr := startRun(t, cmd)
		select {
		case err := <-done:
			t.Fatalf("seed %d: run %d ended before it ran (%v):\n%s", seed, kill, err, stderr)
		case <-running:
		}
		r := killedRun{restored: !strings.Contains(stderr.String(), "restoredCheckpoint=0")}
		delay := time.Duration(rng.Int63n(int64(maxKillDelay)))
		if kill%2 == 1 {
			if ok, err := waitCheckpoint(stderr, done); !ok {
				t.Fatalf("seed %d: run %d ended before its first checkpoint (%v):\n%s", seed, kill, err, stderr)
			}
			// NB: shorter, so that the job still cannot end before the last kill.
			delay /= 3
		}
		select {
		case err := <-done:
			t.Fatalf("seed %d: run %d ended before it was killed (%v):\n%s", seed, kill, err, stderr)
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
		}
		r.checkpointed = strings.Contains(stderr.String(), "checkpoint complete")
		runs = append(runs, r)
	}
	return runs
}

// killedRun is what one run of killRuns did before it was killed.
type killedRun struct {
	restored     bool // it restored a checkpoint
	checkpointed bool // it logged a complete checkpoint (a late one may be missed)
}

// restoredRuns counts the runs that restored a checkpoint.
func restoredRuns(runs []killedRun) int {
	n := 0
	for _, r := range runs {
		if r.restored {
			n++
		}
	}
	return n
}

func lineDiff(got, want []string) string {
	g, w := map[string]int{}, map[string]int{}
	for _, x := range got {
		g[x]++
	}
	for _, x := range want {
		w[x]++
	}
	var out []string
	for x, n := range w {
		if g[x] < n {
			out = append(out, fmt.Sprintf("missing %q x%d", x, n-g[x]))
		}
	}
	for x, n := range g {
		if w[x] < n {
			out = append(out, fmt.Sprintf("extra %q x%d", x, n-w[x]))
		}
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("... %d more", len(out)-20))
	}
	return fmt.Sprintf("got %d lines, want %d: %s", len(got), len(want), strings.Join(out, "; "))
}

// TestCorruptCheckpointFallback kills a run, damages its newest checkpoint on
// disk (a state file only that checkpoint uses, or else its manifest), and
// checks that the rerun detects it by checksum, falls back to the checkpoint
// before, and still commits exactly the output of an uninterrupted run.
func TestCorruptCheckpointFallback(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes for tens of seconds")
	}
	bin, wasm, cache, want := uninterruptedRun(t)

	dir := setupJob(t, wasm)
	store, err := localfs.New(filepath.Join(dir, "data", "jobs", "crash", "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for {
		cmd := weirRun(bin, dir, cache)
		running, done, stderr := startRun(t, cmd)
		select {
		case err := <-done:
			t.Fatalf("run ended early (%v):\n%s", err, stderr)
		case <-running:
		}
		time.Sleep(1500 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		if ids, _ := runtime.Checkpoints(ctx, store); len(ids) >= 2 {
			break
		}
	}
	ids, _ := runtime.Checkpoints(ctx, store)
	latest, err := runtime.ReadManifest(ctx, store, runtime.ManifestObject(ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	shared := map[string]bool{}
	for _, id := range ids[1:] {
		if m, err := runtime.ReadManifest(ctx, store, runtime.ManifestObject(id)); err == nil {
			for _, o := range m.Objects() {
				shared[o] = true
			}
		}
	}
	victim := runtime.ManifestObject(ids[0])
	for _, o := range latest.Objects() {
		if !shared[o] && strings.Contains(o, "/sst/") {
			victim = o
			break
		}
	}
	path := filepath.Join(store.Dir(), filepath.FromSlash(victim))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x20
	// NB: restores may hard-link objects, so write a new file rather than
	// changing the inode in place.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := weirRun(bin, dir, cache).CombinedOutput()
	if err != nil {
		t.Fatalf("run after the corruption failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "falling back to an older checkpoint") {
		t.Fatalf("corrupted %s, but the run did not report a fallback:\n%s", victim, out)
	}
	if got := committed(t, dir); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after a fallback from corrupt %s the committed output differs: %s", victim, lineDiff(got, want))
	}
	t.Logf("corrupted %s of checkpoint %d; the rerun fell back and committed identical output", victim, ids[0])
}

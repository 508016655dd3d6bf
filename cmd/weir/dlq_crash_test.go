package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/plugins/localfs"
	"github.com/weirstream/weir/runtime"
)

// poisonSpec is crashSpec with the poison module (testdata/poison: a window
// count that traps on every 997th record) and a failure policy.
const poisonSpec = poisonSpecHead

const poisonSpecHead = `name: crash
parallelism: 2
checkpoint: {interval: 200ms}
sources:
  - name: events
    kind: datagen
    watermark: {outOfOrderness: 0s}
    options: {seed: 11, count: %d, splits: 4, keys: 50, valueBytes: 32, timeStep: 10, rate: 30000}
operators:
  - name: window
    module: %s
    inputs: [{from: events, partition: keyBy}]
    onFailure: %s
sinks:
  - name: out
    kind: file
    parallelism: 2
    from: window
    options: {path: out, format: keyvalue}
`

// poisonIndexes returns the datagen indexes of the poison records of n.
func poisonIndexes(n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		if i%997 == 13 {
			out = append(out, fmt.Sprintf("%020d", i))
		}
	}
	return out
}

func setupPoisonJob(t *testing.T, wasm string, count int, onFailure string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), fmt.Appendf(nil, poisonSpec, count, wasm, onFailure), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// deadIndexes returns the datagen indexes of the records in the DLQ of the job
// run in dir, sorted, with duplicates.
func deadIndexes(t *testing.T, dir string) []string {
	t.Helper()
	store, err := localfs.New(filepath.Join(dir, "data", "jobs", "crash", "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := runtime.ReadDLQ(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range snap.Entries {
		if d.Operator != "window" || d.Tries != 1 || !strings.Contains(d.Error, "poison record") || !strings.Contains(d.Position, `source "events" split`) {
			t.Errorf("dead letter %d: %+v", d.ID, d)
		}
		out = append(out, string(d.Value[:20]))
	}
	sort.Strings(out)
	return out
}

// TestPoisonStop: with policy stop a poison record fails `weir run` at once,
// with the record's source position, and without a restart.
func TestPoisonStop(t *testing.T) {
	bin := buildWeir(t)
	wasm, err := filepath.Abs(wasmbuild.MustGo(t, "testdata/poison"))
	if err != nil {
		t.Fatal(err)
	}
	dir := setupPoisonJob(t, wasm, 1000, "{policy: stop}") // one poison record: #13
	out, err := weirRun(bin, dir, t.TempDir()).CombinedOutput()
	if err == nil {
		t.Fatalf("the run succeeded:\n%s", out)
	}
	for _, want := range []string{`operator "window"`, `source "events" split "split-`, "record #", "poison record 00000000000000000013", "policy stop fails the job without restarts"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "restarting") {
		t.Errorf("the job restarted:\n%s", out)
	}
}

// TestPoisonDLQCrash: with policy dlq the job runs to its end; its DLQ holds
// exactly the poison records, once each, and its output exactly the windows
// of the other records — also when the run is killed with SIGKILL at random
// moments (at least 10 times) and rerun on the same data directory.
func TestPoisonDLQCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes for tens of seconds")
	}
	const count = 360000
	bin := buildWeir(t)
	wasm, err := filepath.Abs(wasmbuild.MustGo(t, "testdata/poison"))
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	wantDead := poisonIndexes(count)

	ref := setupPoisonJob(t, wasm, count, "{policy: dlq}")
	if out, err := weirRun(bin, ref, cache).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	want := committed(t, ref)
	if got := deadIndexes(t, ref); strings.Join(got, ",") != strings.Join(wantDead, ",") {
		t.Fatalf("uninterrupted run: DLQ differs from the poison records: %s", lineDiff(got, wantDead))
	}
	// The windows count every record but the poison ones.
	total := 0
	for _, l := range want {
		f := strings.Fields(l)
		n, _ := strconv.Atoi(f[len(f)-1])
		total += n
	}
	if total != count-len(wantDead) {
		t.Fatalf("uninterrupted run: the windows count %d records, want %d", total, count-len(wantDead))
	}

	const (
		minKills     = 10
		maxKillDelay = 800 * time.Millisecond
	)
	seed := time.Now().UnixNano()
	dir := setupPoisonJob(t, wasm, count, "{policy: dlq}")
	restores := restoredRuns(killRuns(t, seed, minKills, maxKillDelay, func(int) *exec.Cmd { return weirRun(bin, dir, cache) }))
	out, err := weirRun(bin, dir, cache).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "crash finished") {
		t.Fatalf("seed %d: final run: %v\n%s", seed, err, out)
	}
	if restores < minKills/2 {
		t.Fatalf("seed %d: only %d of %d killed runs restored a checkpoint", seed, restores, minKills)
	}
	if got := committed(t, dir); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("seed %d: committed output differs from the uninterrupted run: %s", seed, lineDiff(got, want))
	}
	if got := deadIndexes(t, dir); strings.Join(got, ",") != strings.Join(wantDead, ",") {
		t.Fatalf("seed %d: after %d kills the DLQ differs from the poison records: %s", seed, minKills, lineDiff(got, wantDead))
	}
	t.Logf("seed %d: %d kills (%d restored a checkpoint): %d dead letters and %d windows, as uninterrupted", seed, minKills, restores, len(wantDead), len(want))
}

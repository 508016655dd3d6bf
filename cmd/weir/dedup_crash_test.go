package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/plugins/datagen"
)

// dedupCrashSpec deduplicates the generator's keys (message ids): 360 000
// records over 200 000 ids, so about a third are duplicates of an earlier one.
const dedupCrashSpec = `name: dedup
parallelism: %d
checkpoint: {interval: 200ms}
sources:
  - name: events
    kind: datagen
    options: %s
operators:
  - name: dedup
    kind: dedup
    from: events
    dedup: {idFrom: key, ttl: 1h}
sinks:
  - name: out
    kind: file
    from: dedup
    options: {path: out, format: keyvalue}
`

const dedupCrashOptions = `{"seed": 23, "count": 360000, "splits": 4, "keys": 200000, "valueBytes": 20, "rate": 30000}`

// TestDedupCrash runs a dedup job as a child `weir run`, kills it with SIGKILL
// at random moments (at least 10 times) and reruns it each time on the same
// data directory at another parallelism (1, 2 or 3, so restores move key
// groups), and checks that the committed output holds every id the generator
// made exactly once: no duplicate passed, no first occurrence was lost.
func TestDedupCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes for tens of seconds")
	}
	src, err := datagen.NewSource(json.RawMessage(dedupCrashOptions), "")
	if err != nil {
		t.Fatal(err)
	}
	gen := src.(*datagen.Source)
	ids := map[string]bool{}
	for i := uint64(0); i < 360000; i++ {
		k, _, _ := gen.Record(i)
		ids[string(k)] = true
	}
	var want []string
	for k := range ids {
		want = append(want, k)
	}
	sort.Strings(want)

	bin := buildWeir(t)
	cache, dir := t.TempDir(), t.TempDir()
	run := func(kill int) *exec.Cmd {
		spec := fmt.Appendf(nil, dedupCrashSpec, 1+kill%3, dedupCrashOptions)
		if err := os.WriteFile(filepath.Join(dir, "job.yaml"), spec, 0o644); err != nil {
			t.Fatal(err)
		}
		return weirRun(bin, dir, cache)
	}
	const (
		minKills     = 10
		maxKillDelay = 800 * time.Millisecond
	)
	seed := time.Now().UnixNano()
	restores := restoredRuns(killRuns(t, seed, minKills, maxKillDelay, run))
	out, err := run(minKills + 1).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dedup finished") {
		t.Fatalf("seed %d: final run: %v\n%s", seed, err, out)
	}
	if restores < minKills/2 {
		t.Fatalf("seed %d: only %d of %d killed runs restored a checkpoint", seed, restores, minKills)
	}
	var got []string
	for _, l := range committed(t, dir) {
		k, _, _ := strings.Cut(l, "\t")
		got = append(got, k)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("seed %d: after %d kills the output is not every id once: %s", seed, minKills, lineDiff(got, want))
	}
	t.Logf("seed %d: %d kills (%d restored a checkpoint, parallelism 1-3): %d ids of 360000 records, each once", seed, minKills, restores, len(want))
}

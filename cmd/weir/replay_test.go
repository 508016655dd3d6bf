package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// replaySpec is shadowSpec with the operator's input journaled and every
// checkpoint retained, so that replay can start from any of them.
const replaySpec = `name: replay
parallelism: 2
checkpoint: {interval: 300ms, retain: 1000}
sources:
  - name: events
    kind: datagen
    parallelism: 1
    options: {seed: 7, count: %d, keys: 13, valueBytes: 30, rate: %d}
operators:
  - name: count
    module: vshadow
    journal: true
    inputs: [{from: events, partition: keyBy}]
sinks:
  - name: out
    kind: file
    parallelism: 2
    from: count
    options: {path: out, format: keyvalue}
`

// committedAfter returns the committed lines of the part files of the
// checkpoints after ckpt, sorted.
func committedAfter(t *testing.T, dir string, ckpt int64) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "out", "part-*"))
	var out []string
	for _, f := range files {
		if num(t, strings.TrimLeft(strings.Split(filepath.Base(f), "-")[1], "0")) <= ckpt {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if l != "" {
				out = append(out, l)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestServerReplay runs a job whose operator journals its input, killing the
// server with SIGKILL a few times while it runs, then
// replays the operator from a middle checkpoint: with the job's module the
// printed output must equal what the checkpoints after it committed, line for
// line; with variant 1 of vshadow the differences must be exactly the records
// with the variants' property among them.
func TestServerReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	const n, kills = 60000, 6
	bin := buildWeir(t)
	dir := t.TempDir()
	paths := vshadowModules(t, dir, 0, 1)
	s := startServer(t, bin, filepath.Join(dir, "data"))
	s.mustCLI("module", "push", paths[0], "--name", "vshadow")
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(replaySpec, n, 6000)), 0o644)
	id := strings.TrimSpace(s.mustCLI("job", "submit", spec))
	// Kills -9 while it runs: the journal of the checkpoints after a restore
	// is recorded again by the next run, and must still line up.
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for range kills {
		time.Sleep(time.Duration(300+rng.Intn(900)) * time.Millisecond)
		s.kill()
		s.start()
	}
	waitJob(t, s, id, 2*time.Minute)
	files := filepath.Join(dir, "data", "files")
	all := readShadowOutput(t, files)
	if len(all) != n {
		t.Fatalf("%d records committed, want %d", len(all), n)
	}
	from := all[n/3].ckpt // a checkpoint about a third of the way in
	want := committedAfter(t, files, from)

	out := s.mustCLI("replay", id, "count", "--from-checkpoint", fmt.Sprint(from))
	got := strings.Split(strings.TrimSpace(out), "\n")
	sort.Strings(got)
	if len(want) == 0 || len(want) == n || !slices.Equal(got, want) {
		t.Fatalf("weir replay from checkpoint %d printed %d lines; the checkpoints after it committed %d; equal: %v", from, len(got), len(want), slices.Equal(got, want))
	}
	t.Logf("replay from checkpoint %d: %d records, byte-identical to the committed output", from, len(got))

	// With variant 1: the differences are exactly its records with the property.
	out = s.mustCLI("replay", id, "count", "--from-checkpoint", fmt.Sprint(from), "--module", paths[1], "-o", "json")
	var diffs, mismatched, matched int64
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var ev struct {
			Diffs []struct {
				Recorded []struct{ Value []byte } `json:"recorded"`
				Replayed []struct{ Value []byte } `json:"replayed"`
			} `json:"diffs"`
			Summary *struct {
				Matched, Mismatched string
			} `json:"summary"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("weir replay -o json: %v: %s", err, sc.Bytes())
		}
		for _, d := range ev.Diffs {
			if len(d.Recorded) != 1 || len(d.Replayed) != 1 {
				t.Fatalf("a diff of %d recorded and %d replayed records", len(d.Recorded), len(d.Replayed))
			}
			_, v, _ := strings.Cut(string(d.Recorded[0].Value), ":")
			if !special(num(t, v[:20])) || strings.ToUpper(string(d.Recorded[0].Value)) != string(d.Replayed[0].Value) {
				t.Fatalf("diff: recorded %q, replayed %q", d.Recorded[0].Value, d.Replayed[0].Value)
			}
			diffs++
		}
		if ev.Summary != nil {
			matched, mismatched = num(t, ev.Summary.Matched), num(t, ev.Summary.Mismatched)
		}
	}
	var wantDiffs int64
	for _, l := range all {
		if l.ckpt > from && special(l.i) {
			wantDiffs++
		}
	}
	if diffs != wantDiffs || mismatched != wantDiffs || matched != int64(len(want))-wantDiffs {
		t.Fatalf("replay with variant 1: %d diffs, summary %d matched %d mismatched; want %d of %d", diffs, matched, mismatched, wantDiffs, len(want))
	}
	t.Logf("replay with variant 1: %d of %d input records differ, exactly those with the property", mismatched, len(want))

	// Refusals say why.
	for _, args := range [][]string{
		{"replay", id, "count", "--from-checkpoint", "999999"},
		{"replay", id, "nope", "--from-checkpoint", fmt.Sprint(from)},
		{"replay", id, "count"},
	} {
		if _, errs, code := s.cli(args...); code == exitOK || errs == "" {
			t.Errorf("weir %s: exit %d, want a refusal", strings.Join(args, " "), code)
		} else {
			t.Logf("weir %s: %s", strings.Join(args, " "), strings.TrimSpace(errs))
		}
	}
}

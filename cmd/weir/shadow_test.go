package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vshadowModules builds testdata/vshadow once and writes its variants (see
// its doc) into dir.
func vshadowModules(t testing.TB, dir string, variants ...int) []string {
	t.Helper()
	wasm := buildGuest(t, dir, "vshadow")
	marker := []byte("weir-vshadow-variant:0")
	at := bytes.Index(wasm, marker)
	if at < 0 || bytes.Count(wasm, marker) != 1 {
		t.Fatalf("the vshadow module holds its variant marker %d times", bytes.Count(wasm, marker))
	}
	var paths []string
	for _, v := range variants {
		b := bytes.Clone(wasm)
		b[at+len(marker)-1] = byte('0' + v)
		p := filepath.Join(dir, fmt.Sprintf("vshadow%d.wasm", v))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

const shadowSpec = `name: shadow
parallelism: 2
checkpoint: {interval: 300ms}
sources:
  - name: events
    kind: datagen
    parallelism: 1
    options: {seed: 7, count: %d, keys: 13, valueBytes: 30, rate: %d}
operators:
  - name: count
    module: vshadow
    inputs: [{from: events, partition: keyBy}]
sinks:
  - name: out
    kind: file
    parallelism: 2
    from: count
    options: {path: out, format: keyvalue}
`

type shadowJSON struct {
	Records        string `json:"records"`
	Matched        string `json:"matched"`
	Mismatched     string `json:"mismatched"`
	Failed         string `json:"failed"`
	FromCheckpoint string `json:"fromCheckpoint"`
	Diffs          []struct {
		Input  []byte                   `json:"input"`
		Live   []struct{ Value []byte } `json:"live"`
		Shadow []struct{ Value []byte } `json:"shadow"`
	} `json:"diffs"`
}

func num(t testing.TB, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if s != "" && err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// shadowLine is one committed output line of shadowSpec.
type shadowLine struct {
	ckpt, i, count int64
	key, value     string // value: what the operator emitted after "<count>:"
}

// readShadowOutput reads the committed output, with each line's checkpoint
// (from its part file's name, <prefix>-<checkpoint>-<subtask>).
func readShadowOutput(t *testing.T, dir string) []shadowLine {
	files, _ := filepath.Glob(filepath.Join(dir, "out", "part-*"))
	var out []shadowLine
	for _, f := range files {
		parts := strings.Split(filepath.Base(f), "-")
		ckpt := num(t, strings.TrimLeft(parts[1], "0"))
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if line == "" {
				continue
			}
			key, val, _ := strings.Cut(line, "\t")
			c, v, _ := strings.Cut(val, ":")
			out = append(out, shadowLine{ckpt: ckpt, i: num(t, v[:20]), count: num(t, c), key: key, value: v})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].i < out[b].i })
	return out
}

func special(i int64) bool { return i%7 == 3 }

// TestServerShadowPromote runs variant 1 of vshadow as the shadow of the live
// variant 0 while records flow, stops it, then promotes variant 1, and checks:
// the shadow's mismatches are exactly the records with the variants' property
// among those it compared; the committed output is every record once, with
// the live variant's bytes up to the promotion's barrier and variant 1's
// after it, counts carried across.
func TestServerShadowPromote(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	const n = 60000
	bin := buildWeir(t)
	dir := t.TempDir()
	paths := vshadowModules(t, dir, 0, 1)
	s := startServer(t, bin, filepath.Join(dir, "data"))
	s.mustCLI("module", "push", paths[0], "--name", "vshadow")
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(shadowSpec, n, 6000)), 0o644)
	id := strings.TrimSpace(s.mustCLI("job", "submit", spec))
	time.Sleep(300 * time.Millisecond)

	var started shadowJSON
	if err := json.Unmarshal([]byte(s.mustCLI("job", "shadow", id, "count", paths[1], "-o", "json")), &started); err != nil {
		t.Fatal(err)
	}
	from := num(t, started.FromCheckpoint)
	time.Sleep(1500 * time.Millisecond)
	if out := s.mustCLI("job", "shadow", id, "--status"); !strings.Contains(out, "MISMATCHED") {
		t.Errorf("weir job shadow --status:\n%s", out)
	}
	var stopped shadowJSON
	if err := json.Unmarshal([]byte(s.mustCLI("job", "shadow", id, "count", "--stop", "-o", "json")), &stopped); err != nil {
		t.Fatal(err)
	}
	s.mustCLI("job", "shadow", id, "count", paths[1]) // again, to promote it
	var promoted struct{ Checkpoint string }
	if err := json.Unmarshal([]byte(s.mustCLI("job", "promote", id, "count", "-o", "json")), &promoted); err != nil {
		t.Fatal(err)
	}
	at := num(t, promoted.Checkpoint)
	waitJob(t, s, id, 2*time.Minute)
	lines := readShadowOutput(t, filepath.Join(dir, "data", "files"))

	// Every record once; per key, counts up by one (state carried over).
	if len(lines) != n {
		t.Fatalf("%d records committed, want %d", len(lines), n)
	}
	byKey := map[string]int64{}
	perCkpt := map[int64]int64{}
	for k, l := range lines {
		if l.i != int64(k) {
			t.Fatalf("record %d missing or committed twice", k)
		}
		byKey[l.key]++
		if l.count != byKey[l.key] {
			t.Fatalf("record %d of key %s has count %d, want %d", l.i, l.key, l.count, byKey[l.key])
		}
		perCkpt[l.ckpt]++
		want := l.value
		if l.ckpt > at && special(l.i) {
			want = strings.ToUpper(l.value)
		} else {
			want = strings.ToLower(l.value) // variant 0's bytes: the datagen filler is lower-case
		}
		if l.value != want {
			t.Fatalf("record %d in checkpoint %d (promoted at %d): value %q, want %q", l.i, l.ckpt, at, l.value, want)
		}
	}

	// The first shadow compared the records after barrier from up to its stop
	// barrier: the checkpoints from+1.. whose records add up to its count.
	recs := num(t, stopped.Records)
	var compared, wantMismatch int64
	for c := from + 1; compared < recs; c++ {
		if c > at {
			t.Fatalf("the shadow compared %d records, more than the checkpoints after %d hold", recs, from)
		}
		compared += perCkpt[c]
		for _, l := range lines {
			if l.ckpt == c && special(l.i) {
				wantMismatch++
			}
		}
	}
	if compared != recs || recs == 0 {
		t.Fatalf("the shadow compared %d records; the checkpoints after %d do not add up to it (%d)", recs, from, compared)
	}
	if num(t, stopped.Mismatched) != wantMismatch || num(t, stopped.Matched) != recs-wantMismatch || num(t, stopped.Failed) != 0 {
		t.Fatalf("shadow counts %+v, want %d mismatched of %d", stopped, wantMismatch, recs)
	}
	for _, d := range stopped.Diffs {
		i := num(t, string(d.Input[:20]))
		if !special(i) || len(d.Live) != 1 || len(d.Shadow) != 1 || string(bytes.ToUpper(d.Live[0].Value)) != string(d.Shadow[0].Value) {
			t.Fatalf("diff of record %d: live %q, shadow %q", i, d.Live, d.Shadow)
		}
	}
	t.Logf("shadow from checkpoint %d: %d records, %d mismatched; promoted at %d", from, recs, wantMismatch, at)
}

// shadowStatusJSON is `weir job shadow ID --status -o json`.
type shadowStatusJSON struct {
	Shadows []struct {
		shadowJSON
		Suspended int    `json:"suspended"`
		LastError string `json:"lastError"`
		Diffs     []struct {
			Error  string                   `json:"error"`
			Input  []byte                   `json:"input"`
			Live   []struct{ Value []byte } `json:"live"`
			Shadow []struct{ Value []byte } `json:"shadow"`
		} `json:"diffs"`
	} `json:"shadows"`
}

// waitShadow polls the shadow's status until done holds for it.
func waitShadow(t *testing.T, s *serverProc, id, what string, done func(st shadowStatusJSON) bool) shadowStatusJSON {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var st shadowStatusJSON
		out := s.mustCLI("job", "shadow", id, "--status", "-o", "json")
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("weir job shadow --status -o json: %v\n%s", err, out)
		}
		if len(st.Shadows) == 1 && done(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("shadow not %s after 90s: %s\nserver log:\n%s", what, out, s.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServerShadowLiveUnchanged runs two identical jobs side by side in one
// server; one of them is shadowed, in turn, by a module that traps, one that
// loops and one that emits twice. The shadowed job's committed output must be
// byte-identical to the plain job's, and each hostile shadow must be reported
// (failed and suspended, or mismatched) rather than reach the live path.
func TestServerShadowLiveUnchanged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	const n = 80000
	bin := buildWeir(t)
	dir := t.TempDir()
	paths := vshadowModules(t, dir, 0, 2, 3, 4)
	s := startServer(t, bin, filepath.Join(dir, "data"))
	s.mustCLI("module", "push", paths[0], "--name", "vshadow")
	submit := func(name string) string {
		spec := strings.NewReplacer("name: shadow", "name: "+name, "path: out", "path: "+name+"/out").
			Replace(fmt.Sprintf(shadowSpec, n, 4000))
		p := filepath.Join(dir, name+".yaml")
		os.WriteFile(p, []byte(spec), 0o644)
		return strings.TrimSpace(s.mustCLI("job", "submit", p))
	}
	plain, shadowed := submit("plain"), submit("shadowed")

	// Variant 2 traps on the special records: a batch with one fails, and
	// after shadowMaxFailedBatches such batches in a row each subtask (2)
	// stops running it. The batches without one match: a failed batch's
	// partial writes do not stay in the shadow's state.
	s.mustCLI("job", "shadow", shadowed, "count", paths[1])
	st := waitShadow(t, s, shadowed, "suspended after traps", func(st shadowStatusJSON) bool { return st.Shadows[0].Suspended == 2 })
	if sh := st.Shadows[0]; num(t, sh.Failed) == 0 || num(t, sh.Mismatched) != 0 || !strings.Contains(sh.LastError, "failed batches in a row") {
		for _, d := range sh.Diffs {
			if d.Error == "" {
				t.Logf("mismatch: input %q live %q shadow %q", d.Input, d.Live, d.Shadow)
			}
		}
		t.Fatalf("trapping shadow: %+v", sh.shadowJSON)
	}
	s.mustCLI("job", "shadow", shadowed, "count", "--stop")

	// Variant 3 loops: each call is cut at shadowCallTimeout.
	s.mustCLI("job", "shadow", shadowed, "count", paths[2])
	st = waitShadow(t, s, shadowed, "suspended after loops", func(st shadowStatusJSON) bool { return st.Shadows[0].Suspended == 2 })
	if sh := st.Shadows[0]; num(t, sh.Failed) == 0 || num(t, sh.Mismatched) != 0 || len(sh.Diffs) == 0 || sh.Diffs[0].Error == "" {
		t.Fatalf("looping shadow: %+v", sh)
	}
	t.Logf("looping shadow: %s", st.Shadows[0].LastError)
	s.mustCLI("job", "shadow", shadowed, "count", "--stop")

	// Variant 4 emits the special records twice: mismatches, not failures.
	s.mustCLI("job", "shadow", shadowed, "count", paths[3])
	st = waitShadow(t, s, shadowed, "mismatched", func(st shadowStatusJSON) bool { return num(t, st.Shadows[0].Mismatched) > 0 })
	if sh := st.Shadows[0]; num(t, sh.Failed) != 0 || len(sh.Diffs) == 0 || len(sh.Diffs[0].Shadow) != 2 {
		t.Fatalf("doubling shadow: %+v", sh)
	}
	s.mustCLI("job", "shadow", shadowed, "count", "--stop")

	for _, id := range []string{plain, shadowed} {
		if j := waitJob(t, s, id, 3*time.Minute); j.State != "JOB_STATE_FINISHED" {
			t.Fatalf("job %s: %s", id, j.State)
		}
	}
	files := filepath.Join(dir, "data", "files")
	want, got := committedLines(t, filepath.Join(files, "plain")), committedLines(t, filepath.Join(files, "shadowed"))
	if len(want) != n {
		t.Fatalf("the plain job committed %d lines, want %d", len(want), n)
	}
	if !slices.Equal(want, got) {
		for i := range min(len(want), len(got)) {
			if want[i] != got[i] {
				t.Fatalf("the shadowed job's output differs from the plain job's at sorted line %d: %q, want %q (%d and %d lines)", i, got[i], want[i], len(got), len(want))
			}
		}
		t.Fatalf("the shadowed job committed %d lines, the plain job %d", len(got), len(want))
	}
}

// committedLines is every line of the part files under dir/out, sorted.
func committedLines(t *testing.T, dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "out", "part-*"))
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
	}
	sort.Strings(out)
	return out
}

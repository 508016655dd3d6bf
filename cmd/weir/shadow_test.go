package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vshadowModules builds testdata/vshadow once and writes its variants (see
// its doc) into dir.
func vshadowModules(t *testing.T, dir string, variants ...int) []string {
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

func num(t *testing.T, s string) int64 {
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

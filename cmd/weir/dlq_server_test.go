package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/internal/wasmbuild"
)

// dlqServerSpec runs the poison module in echo mode on an unbounded,
// rate-limited generator: every record but the poison ones comes out as it
// went in.
const dlqServerSpec = `name: orders
parallelism: 2
checkpoint: {interval: 200ms}
sources:
  - name: events
    kind: datagen
    options: {seed: 3, count: 0, splits: 2, keys: 7, valueBytes: 24, rate: 6000}
operators:
  - name: check
    module: poison
    config: echo
    inputs: [{from: events, partition: keyBy}]
    onFailure: {policy: dlq, retries: 1, backoff: 1ms}
sinks:
  - name: out
    kind: file
    parallelism: 2
    from: check
    options: {path: out, format: keyvalue}
`

// poisonServer starts a `weir server` (in a temporary directory it returns)
// with the poison module pushed as "poison", for the tests of the DLQ; it
// skips in short mode.
func poisonServer(t *testing.T) (*serverProc, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	bin := buildWeir(t)
	wasm := wasmbuild.MustGo(t, "testdata/poison")
	dir := t.TempDir()
	s := startServer(t, bin, filepath.Join(dir, "data"))
	s.mustCLI("module", "push", wasm, "--name", "poison")
	return s, dir
}

type dlqEntryJSON struct {
	ID       string `json:"id"`
	Operator string `json:"operator"`
	Tries    int    `json:"tries"`
	Attempt  int    `json:"attempt"`
	Position string `json:"position"`
	Value    []byte `json:"value"`
	Error    string `json:"error"`
	// Resubmitting is set while a committed resubmission runs.
	Resubmitting bool `json:"resubmitting"`
}

type dlqListJSON struct {
	Entries       []dlqEntryJSON `json:"entries"`
	NextPageToken string         `json:"nextPageToken"`
	Matching      string         `json:"matching"`
}

// TestDLQThroughServer drives a job's DLQ through a real `weir server` and
// the CLI: poison records land in the DLQ with their context; ls pages and
// filters; one entry is dropped; the others are edited and resubmitted, and
// the committed output then holds exactly one line per resubmitted record;
// every other record read is committed once, and every poison record is
// either still in the DLQ, dropped, or resubmitted.
func TestDLQThroughServer(t *testing.T) {
	s, dir := poisonServer(t)
	spec := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(spec, []byte(dlqServerSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	job := strings.TrimSpace(s.mustCLI("job", "submit", spec))

	list := func(args ...string) dlqListJSON {
		t.Helper()
		var l dlqListJSON
		out := s.mustCLI(append([]string{"dlq", "ls", job, "-o", "json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("dlq ls -o json: %v\n%s", err, out)
		}
		return l
	}
	const want = 6
	deadline := time.Now().Add(2 * time.Minute)
	for len(list().Entries) < want {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d dead letters after 2 minutes:\n%s", want, s.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Pages of 2 cover the first entries in order, without gaps.
	var paged []string
	for tok := ""; len(paged) < want; {
		args := []string{"--limit", "2"}
		if tok != "" {
			args = append(args, "--page-token", tok)
		}
		l := list(args...)
		if len(l.Entries) != 2 || l.NextPageToken == "" && len(paged)+2 < want {
			t.Fatalf("page after %q: %+v", tok, l)
		}
		for _, e := range l.Entries {
			paged = append(paged, e.ID)
		}
		tok = l.NextPageToken
	}
	all := list().Entries[:want]
	for i, e := range all {
		if e.ID != paged[i] {
			t.Fatalf("pages give ids %v, one listing %v", paged, all)
		}
		idx, err := strconv.Atoi(string(e.Value[:20]))
		if err != nil || idx%997 != 13 || e.Operator != "check" || e.Tries != 2 || e.Attempt != 1 ||
			!strings.Contains(e.Position, `source "events" split`) || !strings.Contains(e.Error, "poison record") {
			t.Fatalf("dead letter %+v", e)
		}
	}
	if l := list("--filter", string(all[0].Value[:20])); len(l.Entries) != 1 || l.Entries[0].ID != all[0].ID {
		t.Fatalf("--filter by the value found %+v", l)
	}
	if l := list("--operator", "nosuch"); len(l.Entries) != 0 {
		t.Fatalf("--operator nosuch found %+v", l)
	}
	get := s.mustCLI("dlq", "get", job, all[0].ID)
	for _, w := range []string{"check (subtask", "poison record", string(all[0].Value)} {
		if !strings.Contains(get, w) {
			t.Errorf("dlq get shows no %q:\n%s", w, get)
		}
	}

	dropped := all[0]
	s.mustCLI("dlq", "drop", job, dropped.ID, "--note", "test drop")
	if _, _, code := s.cli("dlq", "get", job, dropped.ID); code != exitNotFound {
		t.Fatalf("get of a dropped entry: exit %d", code)
	}
	fixed := map[string]bool{}
	var ids []string
	for _, e := range all[1:] {
		v := "fixed-" + string(e.Value)
		fixed[v] = true
		ids = append(ids, e.ID)
		if e.ID == all[1].ID {
			f := filepath.Join(dir, "value")
			os.WriteFile(f, []byte(v), 0o644)
			s.mustCLI("dlq", "edit", job, e.ID, "--value-file", f)
		} else {
			s.mustCLI("dlq", "edit", job, e.ID, "--value", v)
		}
	}
	s.mustCLI("dlq", "resubmit", job, strings.Join(ids, ","), "--note", "fixed by hand")
	// The entries leave the DLQ with the checkpoint after the records ran.
	for {
		gone := true
		for _, id := range ids {
			if _, _, code := s.cli("dlq", "get", job, id); code != exitNotFound {
				gone = false
			}
		}
		if gone {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, errs, code := s.cli("dlq", "resubmit", job, ids[0]); code != exitNotFound {
		t.Fatalf("resubmit of a resubmitted entry: exit %d %s", code, errs)
	}
	s.mustCLI("job", "cancel", job, "--savepoint")
	audit := s.mustCLI("dlq", "audit", job)
	for _, w := range []string{"dead-letter", "drop", "test drop", "edit", "resubmit", "fixed by hand", "resubmitted"} {
		if !strings.Contains(audit, w) {
			t.Errorf("the audit trail has no %q:\n%s", w, audit)
		}
	}

	// The committed output: every value once; the resubmitted ones once each.
	lines := committed(t, filepath.Join(dir, "data", "files"))
	seen := map[string]bool{}
	maxIdx := -1
	for _, l := range lines {
		_, v, _ := strings.Cut(l, "\t")
		if seen[v] {
			t.Fatalf("value %q committed twice", v)
		}
		seen[v] = true
		if fixed[v] {
			continue
		}
		idx, err := strconv.Atoi(v[:20])
		if err != nil || idx%997 == 13 {
			t.Fatalf("unexpected output line %q", l)
		}
		maxIdx = max(maxIdx, idx)
	}
	for v := range fixed {
		if !seen[v] {
			t.Errorf("resubmitted record %q is not in the output", v)
		}
	}
	// Every poison record up to the last index read is accounted for: in the
	// DLQ, dropped, or resubmitted.
	inDLQ := map[string]bool{dropped.ID: true}
	for _, e := range list("--limit", "1000").Entries {
		inDLQ[string(e.Value[:20])] = true
	}
	for _, e := range all {
		inDLQ[string(e.Value[:20])] = true
	}
	for i := 13; i < maxIdx; i += 997 {
		if !inDLQ[fmt.Sprintf("%020d", i)] {
			t.Errorf("poison record %d is neither in the DLQ nor handled", i)
		}
	}
	t.Logf("%d lines committed (max index %d); %d resubmitted, 1 dropped", len(lines), maxIdx, len(ids))
}

// TestDLQResubmitUnderSIGKILL edits and resubmits dead letters one at a time
// and kills the server with SIGKILL at a random moment during each of 20
// resubmissions, restarting it each time; entries whose resubmission did not
// survive are resubmitted again. In the end every edited record is in the
// committed output exactly once, and no record twice.
func TestDLQResubmitUnderSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	const kills = 20
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	bin := buildWeir(t)
	wasm := wasmbuild.MustGo(t, "testdata/poison")
	dir := t.TempDir()
	s := startServer(t, bin, filepath.Join(dir, "data"))
	s.mustCLI("module", "push", wasm, "--name", "poison")
	spec := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(spec, []byte(dlqServerSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	job := strings.TrimSpace(s.mustCLI("job", "submit", spec))
	entries := func() []dlqEntryJSON {
		out, _, code := s.cli("dlq", "ls", job, "-o", "json", "--limit", "1000")
		var l dlqListJSON
		if code != 0 || json.Unmarshal([]byte(out), &l) != nil {
			return nil
		}
		return l.Entries
	}
	// next waits for a dead letter that is not being resubmitted.
	next := func() dlqEntryJSON {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			for _, e := range entries() {
				if !e.Resubmitting {
					return e
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("seed %d: no dead letter to resubmit after 2 minutes:\n%s", seed, s.stderr)
		return dlqEntryJSON{}
	}
	fixed := map[string]bool{}
	midResubmit := 0
	for k := 0; k < kills; k++ {
		e := next()
		if !strings.HasPrefix(string(e.Value), "fixed-") {
			v := "fixed-" + string(e.Value)
			s.mustCLI("dlq", "edit", job, e.ID, "--value", v)
			fixed[v] = true
		}
		done := make(chan int, 1)
		go func() {
			_, _, code := s.cli("dlq", "resubmit", job, e.ID)
			done <- code
		}()
		time.Sleep(time.Duration(rng.Intn(600)) * time.Millisecond)
		select {
		case <-done:
		default:
			midResubmit++
			defer func() { <-done }()
		}
		s.kill()
		s.start()
	}
	// Resubmit what is left of the edited entries, without kills.
	for {
		var left []string
		for _, e := range entries() {
			if strings.HasPrefix(string(e.Value), "fixed-") && !e.Resubmitting {
				left = append(left, e.ID)
			}
		}
		if len(left) > 0 {
			s.cli("dlq", "resubmit", job, strings.Join(left, ","))
		}
		any := false
		for _, e := range entries() {
			any = any || strings.HasPrefix(string(e.Value), "fixed-")
		}
		if !any && len(left) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.mustCLI("job", "cancel", job, "--savepoint")
	seen := map[string]int{}
	for _, l := range committed(t, filepath.Join(dir, "data", "files")) {
		_, v, _ := strings.Cut(l, "\t")
		seen[v]++
		if seen[v] > 1 {
			t.Errorf("seed %d: value %q committed twice", seed, v)
		}
	}
	for v := range fixed {
		if seen[v] != 1 {
			t.Errorf("seed %d: edited record %q committed %d times, want once", seed, v, seen[v])
		}
	}
	t.Logf("seed %d: %d kills, %d during a resubmission; %d edited records each committed once", seed, kills, midResubmit, len(fixed))
}

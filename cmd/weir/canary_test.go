package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/abi"
)

// canarySpec is shadowSpec with more keys (so that a tenth of the key groups
// holds some), restarts for the kill test, and 128 key groups.
const canarySpec = `name: canary
parallelism: 2
maxParallelism: 128
checkpoint: {interval: 300ms}
restart: {attempts: 100, delay: 100ms}
sources:
  - name: events
    kind: datagen
    parallelism: 1
    options: {seed: 11, count: %d, keys: 100, valueBytes: 30, rate: %d}
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

// canaryHistJSON is the module history of `weir job get -o json`.
type canaryHistJSON struct {
	State         string `json:"state"`
	ModuleHistory []struct {
		Operator        string  `json:"operator"`
		Module          string  `json:"module"`
		FromCheckpoint  string  `json:"fromCheckpoint"`
		CanaryModule    string  `json:"canaryModule"`
		CanaryKeyGroups []int32 `json:"canaryKeyGroups"`
	} `json:"moduleHistory"`
}

func canaryHistory(s *serverProc, id string) (canaryHistJSON, bool) {
	out, _, code := s.cli("job", "get", id, "-o", "json")
	var h canaryHistJSON
	if code != 0 || json.Unmarshal([]byte(out), &h) != nil {
		return h, false
	}
	return h, true
}

// canaryNow reports whether the newest entry of h runs a canary.
func canaryNow(h canaryHistJSON) bool {
	return len(h.ModuleHistory) > 0 && h.ModuleHistory[len(h.ModuleHistory)-1].CanaryModule != ""
}

// checkCanaryOutput checks the committed output of canarySpec against the
// job's final module history h: every record exactly once; per key, counts up
// by one (state kept across the modules); and each record with the variants'
// property (vshadow's doc) in the bytes of the module that h says ran its key
// group in its checkpoint. variant maps digests to vshadow variants. It
// returns how many of those records each variant ran, and how many of those
// that ran while a canary did.
func checkCanaryOutput(t *testing.T, filesDir string, n int, h canaryHistJSON, variant map[string]int) (ran, underCanary map[int]int) {
	t.Helper()
	lines := readShadowOutput(t, filesDir)
	if len(lines) != n {
		t.Fatalf("%d records committed, want %d", len(lines), n)
	}
	ran, underCanary = map[int]int{}, map[int]int{}
	byKey := map[string]int64{}
	for k, l := range lines {
		if l.i != int64(k) {
			t.Fatalf("record %d missing or committed twice", k)
		}
		byKey[l.key]++
		if l.count != byKey[l.key] {
			t.Fatalf("record %d of key %s has count %d, want %d (state lost or doubled)", l.i, l.key, l.count, byKey[l.key])
		}
		if !special(l.i) {
			continue
		}
		// The records of checkpoint c ran after barrier c-1: under the last
		// change from a barrier before c.
		v, canary := -1, false
		for _, c := range h.ModuleHistory {
			if c.Operator != "count" || num(t, c.FromCheckpoint) >= l.ckpt {
				continue
			}
			v, canary = variant[c.Module], c.CanaryModule != ""
			if c.CanaryModule != "" && slices.Contains(c.CanaryKeyGroups, int32(abi.KeyGroup([]byte(l.key), 128))) {
				v = variant[c.CanaryModule]
			}
		}
		want := strings.ToLower(l.value)
		if v == 1 {
			want = strings.ToUpper(l.value)
		}
		if v < 0 || l.value != want {
			t.Fatalf("record %d (key %s, key group %d) in checkpoint %d: value %q, want variant %d's %q; history %+v", l.i, l.key, abi.KeyGroup([]byte(l.key), 128), l.ckpt, l.value, v, want, h.ModuleHistory)
		}
		ran[v]++
		if canary {
			underCanary[v]++
		}
	}
	return ran, underCanary
}

// startCanaryJob starts a server with vshadow variants 0 and 1 pushed (as
// vshadow0 and vshadow1; variant 0 also as vshadow, the job's module) and
// submits canarySpec with n records at rate per second. It returns the
// server, the test's directory, the job and the variant of each digest.
func startCanaryJob(t *testing.T, n, rate int) (*serverProc, string, string, map[string]int) {
	t.Helper()
	bin := buildWeir(t)
	dir := t.TempDir()
	paths := vshadowModules(t, dir, 0, 1)
	s := startServer(t, bin, filepath.Join(dir, "data"))
	variant := map[string]int{}
	for v, p := range paths {
		var m struct{ Digest string }
		if err := json.Unmarshal([]byte(s.mustCLI("module", "push", p, "--name", fmt.Sprintf("vshadow%d", v), "-o", "json")), &m); err != nil {
			t.Fatal(err)
		}
		variant[m.Digest] = v
	}
	s.mustCLI("module", "push", paths[0], "--name", "vshadow")
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(canarySpec, n, rate)), 0o644)
	return s, dir, strings.TrimSpace(s.mustCLI("job", "submit", spec)), variant
}

// TestServerCanary runs variant 1 of vshadow as a canary on 10 % of the key
// groups of an operator live on variant 0, rolls it back, starts it again and
// promotes it, while records flow; the committed output must show variant 1's
// bytes on exactly the canary's key groups while it runs, on every key group
// after the promotion, and variant 0's elsewhere, with every record once.
func TestServerCanary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	const n = 60000
	s, dir, id, variant := startCanaryJob(t, n, 6000)
	time.Sleep(500 * time.Millisecond)

	var started struct {
		Checkpoint string
		Canary     struct {
			KeyGroups      []int32
			MaxParallelism int32
		}
	}
	if err := json.Unmarshal([]byte(s.mustCLI("job", "canary", id, "count", "vshadow1", "--percent", "10", "-o", "json")), &started); err != nil {
		t.Fatal(err)
	}
	if len(started.Canary.KeyGroups) != 13 || started.Canary.MaxParallelism != 128 {
		t.Fatalf("a canary of 10 %% runs %d of %d key groups, want 13 of 128", len(started.Canary.KeyGroups), started.Canary.MaxParallelism)
	}
	if out := s.mustCLI("job", "canary", id, "--status"); !strings.Contains(out, "13 of 128") {
		t.Errorf("weir job canary --status:\n%s", out)
	}
	// Refusals: a second canary, a shadow beside it, an unknown operator.
	for _, args := range [][]string{
		{"job", "canary", id, "count", "vshadow1"},
		{"job", "shadow", id, "count", "vshadow1"},
		{"job", "canary", id, "nope", "vshadow1"},
		{"job", "canary", id, "count", "vshadow1", "--key-groups", "5-x"},
	} {
		if _, errs, code := s.cli(args...); code == exitOK || errs == "" {
			t.Errorf("weir %s: exit %d, want a refusal with a reason", strings.Join(args, " "), code)
		} else {
			t.Logf("weir %s: %s", strings.Join(args, " "), strings.TrimSpace(errs))
		}
	}
	time.Sleep(1500 * time.Millisecond)
	s.mustCLI("job", "canary", id, "count", "--rollback")
	if _, errs, code := s.cli("job", "canary", id, "count", "--rollback"); code == exitOK || !strings.Contains(errs, "no canary") {
		t.Errorf("a second rollback: exit %d: %s", code, errs)
	}
	time.Sleep(1000 * time.Millisecond)
	s.mustCLI("job", "canary", id, "count", "vshadow1", "--key-groups", "0-12")
	time.Sleep(1000 * time.Millisecond)
	s.mustCLI("job", "promote", id, "count")
	waitJob(t, s, id, 2*time.Minute)
	h, ok := canaryHistory(s, id)
	if !ok || len(h.ModuleHistory) != 5 {
		t.Fatalf("module history %+v, want the start, two canaries, a rollback and a promotion", h)
	}
	ran, under := checkCanaryOutput(t, filepath.Join(dir, "data", "files"), n, h, variant)
	if under[1] == 0 || under[0] == 0 {
		t.Fatalf("records with the property per variant while a canary ran: %v; want both", under)
	}
	t.Logf("records with the property per variant: %v, of which while a canary ran: %v; history %+v", ran, under, h.ModuleHistory)
}

// TestServerCanaryRollbackUnderSIGKILL starts and rolls back canaries of
// variant 1 in a job live on variant 0 and kills -9 the server 12 times, half
// of them while a start or a rollback is in flight, half right after one was
// acknowledged; the committed output must hold every record once, each in the
// bytes of the module its checkpoint's history ran on its key group.
func TestServerCanaryRollbackUnderSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	const kills, n = 12, 150000
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	s, dir, id, variant := startCanaryJob(t, n, 5000)
	inFlight, acked, rollbacksAcked := 0, 0, 0
	running := false // a canary runs, as of the last restart
	for k := 0; k < kills; k++ {
		args := []string{"job", "canary", id, "count", "vshadow1", "--percent", "10"}
		if running {
			args = []string{"job", "canary", id, "count", "--rollback"}
		}
		done := make(chan int, 1)
		go func() {
			_, errs, code := s.cli(args...)
			if code != exitOK && code != exitUnreachable {
				t.Logf("weir %s: exit %d: %s", strings.Join(args, " "), code, errs)
			}
			done <- code
		}()
		code := -1
		if k%2 == 0 {
			time.Sleep(time.Duration(rng.Intn(50)) * time.Millisecond)
			select {
			case code = <-done:
			default:
				inFlight++
			}
		} else {
			code = <-done
			time.Sleep(time.Duration(rng.Intn(300)) * time.Millisecond)
		}
		s.kill()
		if code == -1 {
			<-done
		}
		s.start()
		h, ok := canaryHistory(s, id)
		for !ok {
			time.Sleep(50 * time.Millisecond)
			h, ok = canaryHistory(s, id)
		}
		now := canaryNow(h)
		if code == exitOK {
			acked++
			if now == running {
				t.Errorf("kill %d: weir %s was acknowledged, but the restarted job's history is %+v", k+1, strings.Join(args, " "), h.ModuleHistory)
			}
			if running {
				rollbacksAcked++
			}
		}
		running = now
		// Let records flow under what runs now, so each phase holds some.
		time.Sleep(time.Duration(400+rng.Intn(600)) * time.Millisecond)
		if h.State == "JOB_STATE_FINISHED" {
			t.Logf("the job finished after %d kills", k+1)
			break
		}
	}
	waitJob(t, s, id, 3*time.Minute)
	h, _ := canaryHistory(s, id)
	ran, under := checkCanaryOutput(t, filepath.Join(dir, "data", "files"), n, h, variant)
	t.Logf("%d kills landed while a change was in flight, %d after an acknowledged one (%d rollbacks); records with the property per variant %v (while a canary ran %v); history %+v",
		inFlight, acked, rollbacksAcked, ran, under, h.ModuleHistory)
	if inFlight < 3 || rollbacksAcked < 2 || under[1] == 0 || under[0] == 0 {
		t.Errorf("%d kills mid-change, %d acknowledged rollbacks, %v records per variant while a canary ran: want at least 3, 2 and some of each", inFlight, rollbacksAcked, under)
	}
}

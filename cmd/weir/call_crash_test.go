package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirstream/weir/internal/wasmbuild"
)

// callSpec runs the caller module (testdata/caller) on datagen records, with
// the endpoint "orders" at a test service.
const callSpec = `name: crash
parallelism: 2
checkpoint: {interval: 200ms}
endpoints:
  - {name: %s, url: %s, timeout: %s, maxConcurrency: 4}
sources:
  - name: events
    kind: datagen
    options: {seed: 11, count: %d, splits: 4, keys: 50, valueBytes: 32, timeStep: 10, rate: %d}
operators:
  - name: call
    module: %s
    inputs: [{from: events, partition: keyBy}]
sinks:
  - name: out
    kind: file
    parallelism: 2
    from: call
    options: {path: out, format: keyvalue}
`

func setupCallJob(t *testing.T, endpoint, url, timeout, wasm string, count, rate int) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), fmt.Appendf(nil, callSpec, endpoint, url, timeout, count, rate, wasm), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// orderService is an external service that is not idempotent by itself but
// deduplicates by Idempotency-Key, as payment APIs do: the first request with
// a key is the effective call, and its answer (a function of the key and the
// request) is returned again to every retry with that key.
type orderService struct {
	mu        sync.Mutex
	effective map[string]int    // effective calls per key
	requests  map[string]string // the request of each key
	answers   map[string]string
	retries   int
	problems  []string
}

func newOrderService() *orderService {
	return &orderService{effective: map[string]int{}, requests: map[string]string{}, answers: map[string]string{}}
}

// answer is the service's response to the effective call of key with request.
func answer(key, request string) string {
	h := sha256.Sum256([]byte(key + "\x00" + request))
	return "confirmed-" + hex.EncodeToString(h[:6])
}

func (s *orderService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch prev, seen := s.requests[key]; {
	case key == "" || r.Method != http.MethodPost:
		s.problems = append(s.problems, fmt.Sprintf("%s without an idempotency key", r.Method))
		http.Error(w, "no key", http.StatusBadRequest)
		return
	case seen && prev != string(body):
		s.problems = append(s.problems, fmt.Sprintf("key %s: request %q, earlier %q", key, body, prev))
	case seen:
		s.retries++
	default:
		s.requests[key] = string(body)
		s.effective[key]++
		s.answers[key] = answer(key, string(body))
	}
	io.WriteString(w, s.answers[key])
}

// TestCallCrash: a job whose operator calls an external service once per
// record is killed with SIGKILL at random moments (at least 20 times) and
// rerun on the same data directory until it finishes. The service counts
// exactly one effective call per idempotency key (it sees retries of calls
// whose journal entry was lost with an uncommitted checkpoint, with the same
// key), and the committed output holds, for every input record, exactly one
// output carrying the service's answer (ABI.md §5.3).
func TestCallCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes for tens of seconds")
	}
	const (
		count        = 60000
		rate         = 3000
		minKills     = 20
		maxKillDelay = 800 * time.Millisecond
	)
	bin := buildWeir(t)
	wasm, err := filepath.Abs(wasmbuild.MustGo(t, "testdata/caller"))
	if err != nil {
		t.Fatal(err)
	}
	svc := newOrderService()
	srv := httptest.NewServer(svc)
	defer srv.Close()
	cache := t.TempDir()
	seed := time.Now().UnixNano()
	dir := setupCallJob(t, "orders", srv.URL, "5s", wasm, count, rate)
	restores := restoredRuns(killRuns(t, seed, minKills, maxKillDelay, func(int) *exec.Cmd { return weirRun(bin, dir, cache) }))
	out, err := weirRun(bin, dir, cache).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "crash finished") {
		t.Fatalf("seed %d: final run: %v\n%s", seed, err, out)
	}
	if restores < minKills/2 {
		t.Fatalf("seed %d: only %d of %d killed runs restored a checkpoint", seed, restores, minKills)
	}

	svc.mu.Lock()
	defer svc.mu.Unlock()
	for _, p := range svc.problems {
		t.Errorf("seed %d: service: %s", seed, p)
	}
	want := map[string]string{} // index -> "200 answer"
	for i := range count {
		index := fmt.Sprintf("%020d", i)
		key := "order-" + index
		if n := svc.effective[key]; n != 1 {
			t.Errorf("seed %d: key %s: %d effective calls, want 1", seed, key, n)
		}
		want[index] = "200 " + answer(key, svc.requests[key])
	}
	if len(svc.effective) != count {
		t.Errorf("seed %d: the service saw %d keys, want %d", seed, len(svc.effective), count)
	}
	got := map[string]int{}
	for _, line := range committed(t, dir) {
		_, v, _ := strings.Cut(line, "\t")
		index, rest, _ := strings.Cut(v, " ")
		got[index]++
		if w, ok := want[index]; !ok || rest != w {
			t.Errorf("seed %d: output %q, want %q for record %s", seed, line, w, index)
		}
	}
	for index := range want {
		if got[index] != 1 {
			t.Errorf("seed %d: record %s has %d outputs, want 1", seed, index, got[index])
		}
	}
	t.Logf("seed %d: %d kills (%d restored a checkpoint): %d keys, one effective call each; the service saw %d retries", seed, minKills, restores, count, svc.retries)
}

// TestCallUnknownEndpoint: a guest that calls an endpoint the job spec does
// not configure fails the job with an error that names it and the configured
// ones.
func TestCallUnknownEndpoint(t *testing.T) {
	bin := buildWeir(t)
	wasm, err := filepath.Abs(wasmbuild.MustGo(t, "testdata/caller"))
	if err != nil {
		t.Fatal(err)
	}
	dir := setupCallJob(t, "payments", "http://127.0.0.1:1", "5s", wasm, 10, 1000)
	out, err := weirRun(bin, dir, t.TempDir()).CombinedOutput()
	if err == nil {
		t.Fatalf("the run succeeded:\n%s", out)
	}
	for _, want := range []string{`operator "call"`, `call "orders"`, `endpoint "orders": unknown endpoint (the job spec configures payments)`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
}

// TestCallTimeout: an endpoint that does not answer within its timeout fails
// the call with UNAVAILABLE, and the job's error says so.
func TestCallTimeout(t *testing.T) {
	bin := buildWeir(t)
	wasm, err := filepath.Abs(wasmbuild.MustGo(t, "testdata/caller"))
	if err != nil {
		t.Fatal(err)
	}
	stuck := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stuck)
	dir := setupCallJob(t, "orders", srv.URL, "200ms", wasm, 10, 1000)
	start := time.Now()
	out, err := weirRun(bin, dir, t.TempDir()).CombinedOutput()
	if err == nil {
		t.Fatalf("the run succeeded:\n%s", out)
	}
	for _, want := range []string{`call "orders": UNAVAILABLE`, `endpoint "orders": no response within the timeout of 200ms`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the run took %v", d)
	}
}

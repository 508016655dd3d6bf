package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirstream/weir/plugins/nats/natstest"
)

// ingestSpec reads HTTP ingest endpoint clicks into an exactly-once file
// sink, with frequent checkpoints.
const ingestSpec = `name: ingest
parallelism: 2
checkpoint: {interval: 200ms}
restart: {attempts: 1000, delay: 100ms}
sources:
  - name: posts
    kind: http
    options: {endpoint: clicks}
sinks:
  - name: out
    kind: file
    from: posts
    options: {path: out, format: value}
`

// ingestClients post requests until the last kill; request i holds 1 + i%4
// JSON lines.
const ingestClients = 4

func ingestBody(i int) []byte {
	var b bytes.Buffer
	for j := range 1 + i%4 {
		fmt.Fprintf(&b, "{\"req\":%d,\"line\":%d}\n", i, j)
	}
	return b.Bytes()
}

// ingestResult is what the clients saw.
type ingestResult struct {
	// endpoint and body are the requests' endpoint and request i's body,
	// which must hold 1 + i%4 records (clicks and ingestBody if empty).
	endpoint string
	body     func(i int) []byte

	mu         sync.Mutex
	accepted   map[int]int    // request -> 202 answers
	sequences  map[int]uint64 // request -> the stream sequence its 202 said
	duplicates int            // 202 answers that said duplicate
	failures   int            // tries that got no 202 (connection refused or reset, 503)
}

// post sends request i until it gets a 202, repeating it with the same
// Idempotency-Key after a failure (the server may have stored it and died
// before answering).
func (r *ingestResult) post(t *testing.T, url string, i int) {
	for try := 0; ; try++ {
		endpoint, body := cmp.Or(r.endpoint, "clicks"), ingestBody
		if r.body != nil {
			body = r.body
		}
		req, err := http.NewRequest(http.MethodPost, url+"/v1/ingest/"+endpoint, bytes.NewReader(body(i)))
		if err != nil {
			t.Error(err)
			return
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("req-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				var a struct {
					ID        string `json:"id"`
					Records   int    `json:"records"`
					Sequence  uint64 `json:"sequence"`
					Duplicate bool   `json:"duplicate"`
				}
				if err := json.Unmarshal(body, &a); err != nil || a.ID != fmt.Sprintf("req-%d", i) || a.Records != 1+i%4 {
					t.Errorf("request %d: 202 with body %s", i, body)
				}
				r.mu.Lock()
				r.accepted[i]++
				if r.sequences == nil {
					r.sequences = map[int]uint64{}
				}
				if prev, ok := r.sequences[i]; ok && prev != a.Sequence {
					t.Errorf("request %d: answered 202 with sequences %d and %d", i, prev, a.Sequence)
				}
				r.sequences[i] = a.Sequence
				if a.Duplicate {
					r.duplicates++
				}
				r.mu.Unlock()
				return
			}
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("request %d: status %d: %s", i, resp.StatusCode, body)
				return
			}
		}
		r.mu.Lock()
		r.failures++
		r.mu.Unlock()
		if try > 2000 {
			t.Errorf("request %d: no 202 after %d tries: %v", i, try, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIngestUnderSIGKILL posts JSON-lines requests to a `weir server`'s HTTP
// ingest endpoint from several clients while the server process (with its
// embedded nats-server) is killed with SIGKILL at random moments at least 10
// times and restarted on the same data directory. Each client repeats a
// request with the same Idempotency-Key until it is answered 202. The job
// (http source -> exactly-once file sink) must then commit every line of
// every request exactly once: an acknowledged request is never lost, and a
// repeated one is never stored twice.
func TestIngestUnderSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a weir server process for tens of seconds")
	}
	bin := buildWeir(t)
	dataDir := t.TempDir()
	s := startServer(t, bin, dataDir)
	id, seed := submitIngest(t, s)
	res := &ingestResult{accepted: map[int]int{}}
	const minKills = 10
	n := res.postUnderKills(t, s, seed, minKills)
	res.check(t, s, id, n, seed, fmt.Sprintf("%d kills of the server", minKills))
}

// TestIngestUnderSIGKILLRescaleAndBrokerRestart is TestIngestUnderSIGKILL
// with the server on an external NATS server (in the test process), and
// disruptions of three kinds while the clients post: SIGKILL and restart of
// the weir server (11 times), `weir job rescale` to 1, 3 and 2 and back
// (4 times: a final checkpoint, then a restore at another parallelism), and
// a restart of the NATS server during which the ingest endpoint answers 503
// and the job's attempts fail. Every line of every request answered 202
// must be committed exactly once.
func TestIngestUnderSIGKILLRescaleAndBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a weir server process for tens of seconds")
	}
	ext := natstest.Start(t)
	bin := buildWeir(t)
	s := startServer(t, bin, t.TempDir(), "--nats", ext.URL())
	id, seed := submitIngest(t, s)
	res := &ingestResult{accepted: map[int]int{}}
	const rounds = 16
	kills, rescales, brokerRestarts := 0, 0, 0
	parallelism := []string{"1", "3", "2", "1"}
	n := res.postDuring(t, s, seed, rounds, func(round int) {
		switch {
		case round == 6:
			ext.Restart(500 * time.Millisecond)
			brokerRestarts++
		case round%4 == 1:
			p := parallelism[rescales%len(parallelism)]
			// NB: right after a kill the job may still be restoring: the
			// server refuses a rescale then, so try again.
			for try := 0; ; try++ {
				out, errs, code := s.cli("job", "rescale", id, p)
				if code == 0 {
					break
				}
				if try == 100 {
					t.Fatalf("weir job rescale %s %s: exit %d\n%s%s", id, p, code, out, errs)
				}
				time.Sleep(100 * time.Millisecond)
			}
			rescales++
		default:
			s.kill()
			s.start()
			kills++
		}
	})
	// The last rescale (to 1) held through the kills after it.
	j, _ := s.getJob(id)
	for _, nd := range j.Nodes {
		if nd.Parallelism != 1 {
			t.Errorf("node %s runs at parallelism %d after the last rescale to 1", nd.Name, nd.Parallelism)
		}
	}
	if len(j.Nodes) == 0 {
		t.Errorf("job %s shows no nodes", id)
	}
	res.check(t, s, id, n, seed, fmt.Sprintf("%d kills of the server, %d rescales (to %s), %d NATS restarts", kills, rescales, strings.Join(parallelism[:rescales], ", "), brokerRestarts))
}

// submitIngest submits ingestSpec to s and returns the job's id and a seed
// for the test's random moments (logged, to rerun a failure).
func submitIngest(t *testing.T, s *serverProc) (string, int64) {
	t.Helper()
	specFile := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(specFile, []byte(ingestSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(s.mustCLI("job", "submit", specFile))
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	return id, seed
}

// check waits until the sink of job id on s has committed the lines of the
// n requests posted, and fails unless it holds each exactly once and each
// request was answered 202 once.
func (res *ingestResult) check(t *testing.T, s *serverProc, id string, n int, seed int64, what string) {
	t.Helper()
	// The model: every line of every request.
	var want []string
	for i := range n {
		want = append(want, strings.Split(strings.TrimSuffix(string(ingestBody(i)), "\n"), "\n")...)
	}
	sort.Strings(want)
	files := filepath.Join(s.dataDir, "files")
	deadline := time.Now().Add(2 * time.Minute)
	var got []string
	for {
		got = committed(t, files)
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	j, _ := s.getJob(id)
	lost, dup := lostDuplicated(got, want)
	t.Logf("seed %d: %s; %d requests (%d lines) answered 202, %d of the answers to a repeat that said duplicate, %d tries without a 202; committed %d lines: lost = %d, duplicated = %d; job %s",
		seed, what, len(res.accepted), len(want), res.duplicates, res.failures, len(got), lost, dup, j.State)
	for i := range n {
		if res.accepted[i] != 1 {
			t.Errorf("request %d was answered 202 %d times", i, res.accepted[i])
		}
	}
	if lost != 0 || dup != 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("seed %d: the committed output differs from the accepted requests: %s", seed, lineDiff(got, want))
	}
}

// postUnderKills posts requests from ingestClients clients to s while it is
// killed with SIGKILL at random moments (seeded) kills times and restarted
// on the same data directory, and returns how many requests were posted
// (each answered 202 once the clients are done).
func (res *ingestResult) postUnderKills(t *testing.T, s *serverProc, seed int64, kills int) int {
	return res.postDuring(t, s, seed, kills, func(int) { s.kill(); s.start() })
}

// postDuring posts requests from ingestClients clients to s while disrupt
// runs rounds times, at random moments (seeded), and returns how many
// requests were posted (each answered 202 once the clients are done).
func (res *ingestResult) postDuring(t *testing.T, s *serverProc, seed int64, rounds int, disrupt func(round int)) int {
	rng := rand.New(rand.NewSource(seed))
	var mu sync.Mutex
	url := s.url()
	next, stop := 0, false
	var wg sync.WaitGroup
	for range ingestClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i, done := next, stop
				if !done {
					next++
				}
				mu.Unlock()
				if done {
					return
				}
				res.post(t, url, i)
			}
		}()
	}
	for round := range rounds {
		time.Sleep(time.Duration(rng.Int63n(int64(800 * time.Millisecond))))
		disrupt(round)
	}
	// NB: the clients post until here, so requests were in flight at every
	// disruption.
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	stop = true
	mu.Unlock()
	wg.Wait()
	return next
}

// TestIngestExternalNATS runs `weir server --nats URL`: the requests go to
// that server's stream (no embedded one is started) and the job commits them.
func TestIngestExternalNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a weir server process")
	}
	ext := natstest.Start(t)
	bin := buildWeir(t)
	dataDir := t.TempDir()
	s := startServer(t, bin, dataDir, "--nats", ext.URL())
	specFile := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(specFile, []byte(ingestSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	s.mustCLI("job", "submit", specFile)
	res := &ingestResult{accepted: map[int]int{}}
	var want []string
	for i := range 3 {
		res.post(t, s.url(), i)
		want = append(want, strings.Split(strings.TrimSuffix(string(ingestBody(i)), "\n"), "\n")...)
	}
	sort.Strings(want)
	var got []string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = committed(t, filepath.Join(dataDir, "files")); len(got) >= len(want) {
			break
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("committed %q, want %q", got, want)
	}
	if n := len(ext.Messages(t, "WEIR_INGEST_clicks")); n != 3 {
		t.Errorf("the external server's stream holds %d messages, want 3", n)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "nats")); err == nil {
		t.Errorf("an embedded nats-server store exists in the data directory although --nats was given")
	}
}

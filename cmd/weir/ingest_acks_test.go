package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	weirnats "github.com/weirstream/weir/plugins/nats"
)

// ingestAcksSpec reads HTTP ingest endpoint orders through the poison module
// in echo mode, with policy dlq, into an exactly-once file sink, and keeps
// each request's status (ack target kind ingest) on the server's embedded
// JetStream.
const ingestAcksSpec = `name: orders
parallelism: 2
checkpoint: {interval: 200ms}
restart: {attempts: 1000, delay: 100ms}
sources:
  - name: posts
    kind: http
    options: {endpoint: orders}
operators:
  - name: check
    module: poison
    config: echo
    inputs: [{from: posts, partition: keyBy}]
    onFailure: {policy: dlq}
sinks:
  - name: out
    kind: file
    from: check
    options: {path: out, format: value}
acks:
  kind: ingest
`

// ingestAcksLine is line j of request i: a 20-digit number, so that the
// poison module traps on exactly the lines poisonLine says.
func ingestAcksLine(i, j int) string { return strconv.FormatUint(1e19+uint64(i)*4+uint64(j), 10) }

func poisonLine(line string) bool {
	n, _ := strconv.ParseUint(line, 10, 64)
	return n%997 == 13
}

func ingestAcksBody(i int) []byte {
	var b bytes.Buffer
	for j := range 1 + i%4 {
		fmt.Fprintln(&b, ingestAcksLine(i, j))
	}
	return b.Bytes()
}

// TestIngestAcksUnderSIGKILL posts JSON-lines requests to a `weir server`
// whose job keeps each request's status, while the server (with its
// embedded JetStream) is killed with SIGKILL at random moments at least 20
// times. Afterwards every request answered 202 must reach a final status:
// NACKed, listing exactly its poison lines (by index) with their DLQ
// entries, if it holds one, else ACKed; and the sink must hold every other
// line exactly once.
func TestIngestAcksUnderSIGKILL(t *testing.T) {
	s, _ := poisonServer(t)
	specFile := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(specFile, []byte(ingestAcksSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(s.mustCLI("job", "submit", specFile))
	seed := time.Now().UnixNano()
	res := &ingestResult{endpoint: "orders", body: ingestAcksBody, accepted: map[int]int{}}
	const minKills = 20
	requests := res.postUnderKills(t, s, seed, minKills)

	// The model.
	var want []string
	wantFailed := map[int][]int{} // request -> its poison lines
	for i := range requests {
		for j := range 1 + i%4 {
			if line := ingestAcksLine(i, j); poisonLine(line) {
				wantFailed[i] = append(wantFailed[i], j)
			} else {
				want = append(want, line)
			}
		}
	}
	slices.Sort(want)

	// Every request's status, until none is pending.
	deadline := time.Now().Add(2 * time.Minute)
	statuses := map[int]weirnats.IngestStatus{}
	for i := 0; i < requests; {
		st := requestStatus(t, s.url(), res.sequences[i])
		if st.ID != fmt.Sprintf("req-%d", i) || st.Records != 1+i%4 || len(st.Jobs) != 1 || st.Jobs[0].Job != id {
			t.Fatalf("seed %d: request %d: status %+v", seed, i, st)
		}
		if st.Jobs[0].Status == weirnats.StatusPending {
			if time.Now().After(deadline) {
				t.Fatalf("seed %d: request %d (sequence %d) still pending after 2 minutes", seed, i, res.sequences[i])
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		statuses[i] = st.Jobs[0]
		i++
	}
	acked, nacked := 0, 0
	dlqIDs := map[int64]bool{}
	for i := range requests {
		st := statuses[i]
		var failed []int
		for _, f := range st.Failed {
			failed = append(failed, f.Record)
			if f.Operator != "check" || !strings.Contains(f.Error, "poison record") || dlqIDs[f.DLQ] {
				t.Fatalf("seed %d: request %d: failed part %+v is not a new DLQ entry of operator check", seed, i, f)
			}
			dlqIDs[f.DLQ] = true
		}
		wantStatus := weirnats.StatusAcked
		if len(wantFailed[i]) > 0 {
			wantStatus = weirnats.StatusNacked
		}
		if st.Status != wantStatus || !slices.Equal(failed, wantFailed[i]) {
			t.Fatalf("seed %d: request %d is %s with failed records %v, want %s with %v", seed, i, st.Status, failed, wantStatus, wantFailed[i])
		}
		if wantStatus == weirnats.StatusAcked {
			acked++
		} else {
			nacked++
		}
	}
	got := committed(t, filepath.Join(s.dataDir, "files"))
	lost, dup := lostDuplicated(got, want)
	j, _ := s.getJob(id)
	t.Logf("seed %d: %d kills; %d requests: %d ACKed, %d NACKed with %d failed lines; %d tries without a 202; committed %d lines: lost = %d, duplicated = %d; job %s",
		seed, minKills, requests, acked, nacked, len(dlqIDs), res.failures, len(got), lost, dup, j.State)
	if nacked == 0 {
		t.Fatalf("seed %d: no request held a poison line: post more", seed)
	}
	if lost != 0 || dup != 0 {
		t.Fatalf("seed %d: the committed output differs from the good lines: %s", seed, lineDiff(got, want))
	}

	// The CLI: the status of a NACKed request, and the retry of its failed
	// records (which are poison, so they fail again: attempt 2 in the DLQ).
	var first int
	for first = 0; len(wantFailed[first]) == 0; first++ {
	}
	seq := strconv.FormatUint(res.sequences[first], 10)
	out := s.mustCLI("ingest", "status", "orders", seq)
	if !strings.Contains(out, "job "+id+":  nacked") || !strings.Contains(out, fmt.Sprintf("record %d:", wantFailed[first][0])) || !strings.Contains(out, "weir ingest retry orders "+seq) {
		t.Errorf("weir ingest status orders %s:\n%s", seq, out)
	}
	if out := s.mustCLI("ingest", "retry", "orders", seq); !strings.Contains(out, fmt.Sprintf("%d failed record", len(wantFailed[first]))) {
		t.Errorf("weir ingest retry orders %s: %s", seq, out)
	}
	if _, errs, code := s.cli("ingest", "retry", "orders", strconv.FormatUint(res.sequences[first+1], 10)); len(wantFailed[first+1]) == 0 && (code != 4 || !strings.Contains(errs, "acked")) {
		t.Errorf("weir ingest retry of an ACKed request: exit %d: %s", code, errs)
	}
	for _, sub := range []string{"status", "replay"} {
		if _, errs, code := s.cli("ingest", sub, "orders", "99999999"); code != 3 || !strings.Contains(errs, "no request 99999999") {
			t.Errorf("weir ingest %s of no request: exit %d: %s", sub, code, errs)
		}
	}
	deadline = time.Now().Add(time.Minute)
	for {
		// NB: every entry, not the first page (100): a run may NACK more.
		out := s.mustCLI("dlq", "ls", id, "-o", "json", "--limit", "1000")
		var l dlqListJSON
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatal(err)
		}
		again := 0
		for _, d := range l.Entries {
			if d.Attempt == 2 {
				again++
			}
		}
		if again == len(wantFailed[first]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d retried records are back in the DLQ with attempt 2 (%d entries)", again, len(wantFailed[first]), len(l.Entries))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := requestStatus(t, s.url(), res.sequences[first]); st.Jobs[0].Status != weirnats.StatusNacked {
		t.Errorf("after the retry, request %d is %s: its final status was its NACK", first, st.Jobs[0].Status)
	}

	// The replay of the whole request: a new request with the same records,
	// whose poison lines fail again.
	out = s.mustCLI("ingest", "replay", "orders", seq, "--idempotency-key", "replay-1")
	m := regexp.MustCompile(`replayed as request replay-1: sequence (\d+), (\d+) record`).FindStringSubmatch(out)
	if m == nil || m[2] != strconv.Itoa(1+first%4) {
		t.Fatalf("weir ingest replay orders %s: %s", seq, out)
	}
	replay, _ := strconv.ParseUint(m[1], 10, 64)
	deadline = time.Now().Add(time.Minute)
	for {
		st := requestStatus(t, s.url(), replay)
		if st.Jobs[0].Status != weirnats.StatusPending {
			var failed []int
			for _, f := range st.Jobs[0].Failed {
				failed = append(failed, f.Record)
			}
			if st.ID != "replay-1" || st.Jobs[0].Status != weirnats.StatusNacked || !slices.Equal(failed, wantFailed[first]) {
				t.Errorf("the replay of request %d: %+v, want NACKed with records %v", first, st, wantFailed[first])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replay of request %d is still pending", first)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requestStatus asks the server for the status of the ingest request at
// stream sequence seq of endpoint orders.
func requestStatus(t *testing.T, url string, seq uint64) weirnats.IngestRequestStatus {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/v1/ingest/orders/requests/%d", url, seq))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st weirnats.IngestRequestStatus
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
		t.Fatalf("status of request %d: %s", seq, resp.Status)
	}
	return st
}

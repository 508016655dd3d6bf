package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestHTTPIngestExample runs examples/http-ingest as its README says: a
// `weir server`, the example's job submitted, the README's three requests
// posted (two JSON lines, the same request again with its Idempotency-Key,
// one raw record with a Weir-Key), and the committed part files must hold
// each record once.
func TestHTTPIngestExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and runs a weir server process")
	}
	dataDir := t.TempDir()
	s := startServer(t, buildWeir(t), dataDir)
	spec, err := filepath.Abs("../../examples/http-ingest/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(s.mustCLI("job", "submit", spec))

	type answer struct {
		ID        string `json:"id"`
		Records   int    `json:"records"`
		Stream    string `json:"stream"`
		Sequence  uint64 `json:"sequence"`
		Duplicate bool   `json:"duplicate"`
	}
	post := func(query, body string, header ...string) answer {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, s.url()+"/v1/ingest/orders"+query, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST %s: status %d: %s", query, resp.StatusCode, data)
		}
		var a answer
		if err := json.Unmarshal(data, &a); err != nil {
			t.Fatalf("POST %s: answer %s: %v", query, data, err)
		}
		return a
	}
	orders := "{\"sku\": 7, \"qty\": 1}\n{\"sku\": 9, \"qty\": 2}\n"
	first := post("", orders, "Content-Type", "application/x-ndjson", "Idempotency-Key", "order-1041")
	if first != (answer{ID: "order-1041", Records: 2, Stream: "WEIR_INGEST_orders", Sequence: 1}) {
		t.Errorf("first request: answer %+v", first)
	}
	again := post("", orders, "Content-Type", "application/x-ndjson", "Idempotency-Key", "order-1041")
	if !again.Duplicate || again.Sequence != 1 {
		t.Errorf("repeated request: answer %+v, want a duplicate of sequence 1", again)
	}
	if raw := post("?format=raw", "refund 1041", "Weir-Key", "ann"); raw.Records != 1 {
		t.Errorf("raw request: answer %+v, want 1 record", raw)
	}

	want := []string{`refund 1041`, `{"sku": 7, "qty": 1}`, `{"sku": 9, "qty": 2}`}
	sort.Strings(want)
	var got []string
	// NB: the wait only bounds a job that never commits; the records
	// arrive at its next checkpoint (every second).
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = committedUnder(t, filepath.Join(dataDir, "files", "orders")); len(got) >= len(want) {
			break
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		j, _ := s.getJob(id)
		t.Fatalf("committed %q, want %q (job %s %s)", got, want, j.State, j.Error)
	}
}

// committedUnder returns the sorted lines of the part files in dir.
func committedUnder(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 {
			lines = append(lines, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
		}
	}
	sort.Strings(lines)
	return lines
}

package httpcall

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirstream/weir/runtime"
)

// TestAcks posts statuses to a receiver that fails every other request:
// the retries deliver every piece, cut at multiples of batch, with its id
// as the Idempotency-Key, and a delivery whose retries run out fails.
func TestAcks(t *testing.T) {
	var mu sync.Mutex
	got := map[string]runtime.AckBatch{}
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		requests++
		if requests%2 == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var b runtime.AckBatch
		if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &b) != nil || r.Header.Get("Idempotency-Key") != b.ID() {
			t.Errorf("request %s %q: %s", r.Header.Get("Content-Type"), r.Header.Get("Idempotency-Key"), body)
		}
		got[b.ID()] = b
	}))
	defer srv.Close()
	a, err := NewAcks(json.RawMessage(`{"url":"`+srv.URL+`","batch":10,"timeout":"2s"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	a.(*Acks).sleep = func(context.Context, time.Duration) error { return nil }
	b := runtime.AckBatch{Job: "j", Source: "s", Split: "p", Checkpoint: 3, From: 5, To: 27,
		Nacks: []runtime.Nack{{Seq: 12, Failed: []runtime.AckPart{{DLQ: 1, Operator: "op", Error: "boom"}}}}}
	if err := a.Deliver(context.Background(), []runtime.AckBatch{b}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"j/s/p/5-10", "j/s/p/10-20", "j/s/p/20-27"} {
		if _, ok := got[id]; !ok {
			t.Errorf("piece %s not delivered (got %v)", id, got)
		}
	}
	if p := got["j/s/p/10-20"]; len(p.Nacks) != 1 || p.Nacks[0].Seq != 12 || len(got["j/s/p/5-10"].Nacks) != 0 {
		t.Errorf("NACKs in the wrong piece: %+v", got)
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such hook", http.StatusNotFound)
	}))
	defer down.Close()
	a, _ = NewAcks(json.RawMessage(`{"url":"`+down.URL+`/hook","retries":1}`), "")
	a.(*Acks).sleep = func(context.Context, time.Duration) error { return nil }
	err = a.Deliver(context.Background(), []runtime.AckBatch{b})
	if err == nil || !strings.Contains(err.Error(), "after 2 tries") || !strings.Contains(err.Error(), "answered 404") || !strings.Contains(err.Error(), "statuses j/s/p/5-27") {
		t.Errorf("a failing hook: %v", err)
	}
}

func TestAcksOptions(t *testing.T) {
	for opts, want := range map[string]string{
		`{}`:                                  "option url: missing",
		`{"url":"ftp://x"}`:                   "option url",
		`{"url":"http://x","batch":0}`:        "",
		`{"url":"http://x","batch":-1}`:       "option batch",
		`{"url":"http://x","retries":99}`:     "option retries",
		`{"url":"http://x","timeout":"1h"}`:   "option timeout",
		`{"url":"http://x","timeout":"soon"}`: "option timeout",
		`{"url":"http://x","stream":"s"}`:     "stream",
	} {
		_, err := NewAcks(json.RawMessage(opts), "")
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", opts, err, want)
		}
	}
}

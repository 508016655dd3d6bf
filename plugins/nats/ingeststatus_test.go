package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// TestIngestStatus delivers the statuses of four requests in two
// checkpoints whose boundary falls inside a request, with the positions a
// real http source reader reports, repeats both deliveries (as restores do)
// and asks each request's status over HTTP.
func TestIngestStatus(t *testing.T) {
	in, hs := ingestServer(t)
	ctx := context.Background()
	url := hs.URL + "/v1/ingest/orders"
	// Records: r1 0-2, r2 3, r3 4-5, r4 6-8.
	for _, req := range []struct{ key, ct, body string }{
		{"r1", "application/x-ndjson", "{\"i\":0}\n{\"i\":1}\n\n{\"i\":2}\n"},
		{"r2", "application/octet-stream", "raw"},
		{"r3", "application/x-ndjson", "{\"i\":4}\n{\"i\":5}"},
		{"r4", "application/x-ndjson", "{\"i\":6}\n{\"i\":7}\n{\"i\":8}\n"},
	} {
		if code, body := postIngest(t, url, req.ct, req.body, "Idempotency-Key", req.key); code != http.StatusAccepted || !strings.Contains(body, `"status":"/v1/ingest/orders/requests/`) {
			t.Fatalf("%s: %d %s", req.key, code, body)
		}
	}
	src, err := in.NewSource(json.RawMessage(`{"endpoint":"orders"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	splits, _ := src.Splits(ctx)
	r, err := src.Open(ctx, splits[0], nil, runtime.SourceEnv{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	readTo := func(total *int, want int) []byte {
		for *total < want {
			var w abi.Writer
			n, err := r.Read(ctx, &w, want-*total)
			if err != nil {
				t.Fatal(err)
			}
			*total += n
		}
		return r.Position()
	}
	total := 0
	p1 := readTo(&total, 5) // inside r3
	p2 := readTo(&total, 9)
	if len(p1) != 16 {
		t.Fatalf("position after 5 records %x: want one inside request r3", p1)
	}
	part := func(dlq int64) []runtime.AckPart {
		return []runtime.AckPart{{DLQ: dlq, Operator: "price", Error: fmt.Sprintf("failure %d", dlq)}}
	}
	b1 := runtime.AckBatch{Job: "shop", Source: "in", Split: splits[0], Checkpoint: 1, From: 0, To: 5, ToPosition: p1,
		Nacks: []runtime.Nack{{Seq: 1, Failed: part(10)}, {Seq: 4, Failed: part(11)}}}
	b2 := runtime.AckBatch{Job: "shop", Source: "in", Split: splits[0], Checkpoint: 2, From: 5, To: 9, FromPosition: p1, ToPosition: p2,
		Nacks: []runtime.Nack{{Seq: 8, Failed: part(12)}}}
	other := runtime.AckBatch{Job: "shop", Source: "files", Split: "file-0", Checkpoint: 1, From: 0, To: 100, ToPosition: []byte("x")}
	acks, err := in.NewAcks(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	status := func(seq int) string {
		t.Helper()
		resp, err := http.Get(fmt.Sprintf("%s/v1/ingest/orders/requests/%d", hs.URL, seq))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		}
		var s IngestRequestStatus
		if err := json.Unmarshal(body, &s); err != nil || len(s.Jobs) != 1 {
			t.Fatalf("request %d: %s (%v)", seq, body, err)
		}
		out := fmt.Sprintf("%s/%d %s", s.ID, s.Records, s.Jobs[0].Status)
		for _, f := range s.Jobs[0].Failed {
			out += fmt.Sprintf(" %d:%d", f.Record, f.DLQ)
		}
		return out
	}
	check := func(when string, want ...string) {
		t.Helper()
		for i, w := range want {
			if got := status(i + 1); got != w {
				t.Errorf("%s: request %d is %q, want %q", when, i+1, got, w)
			}
		}
	}
	hs.Config.Handler.(*http.ServeMux).Handle(IngestStatusPath, in.StatusHandler())

	if err := acks.Deliver(ctx, []runtime.AckBatch{b1, other}); err != nil {
		t.Fatal(err)
	}
	check("after checkpoint 1", "r1/3 nacked 1:10", "r2/1 acked", "r3/2 pending 0:11", "r4/3 pending")
	for range 2 {
		if err := acks.Deliver(ctx, []runtime.AckBatch{b2}); err != nil {
			t.Fatal(err)
		}
	}
	check("after checkpoint 2, delivered twice", "r1/3 nacked 1:10", "r2/1 acked", "r3/2 nacked 0:11", "r4/3 nacked 2:12")
	// A fallback restore delivers checkpoint 1 again: nothing changes.
	if err := acks.Deliver(ctx, []runtime.AckBatch{b1}); err != nil {
		t.Fatal(err)
	}
	check("after checkpoint 1 again", "r1/3 nacked 1:10", "r2/1 acked", "r3/2 nacked 0:11", "r4/3 nacked 2:12")
	if got := status(5); !strings.HasPrefix(got, "404 no request 5 at endpoint orders") {
		t.Errorf("a request that never was: %q", got)
	}
	if _, err := in.NewAcks(json.RawMessage(`{"stream":"x"}`), ""); err == nil || !strings.Contains(err.Error(), "stream") {
		t.Errorf("an option: %v", err)
	}
}

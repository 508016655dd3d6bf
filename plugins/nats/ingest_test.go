package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/plugins/nats/natstest"
	"github.com/weirstream/weir/runtime"
)

func ingestServer(t *testing.T) (*Ingest, *httptest.Server) {
	t.Helper()
	srv := natstest.Start(t)
	in, err := NewIngest(srv.URL(), IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close)
	mux := http.NewServeMux()
	mux.Handle(IngestPath, in.Handler())
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return in, hs
}

func postIngest(t *testing.T, url, contentType, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestIngest posts JSON lines and a raw body, repeats a request with its
// Idempotency-Key, and reads the records back through the http source.
func TestIngest(t *testing.T) {
	in, hs := ingestServer(t)
	url := hs.URL + "/v1/ingest/clicks"
	code, body := postIngest(t, url, "application/x-ndjson", "{\"a\":1}\n\n{\"a\":2}\n", "Idempotency-Key", "r1")
	if code != http.StatusAccepted || !strings.Contains(body, `"id":"r1","records":2,"stream":"WEIR_INGEST_clicks","sequence":1`) {
		t.Fatalf("JSON lines: %d %s", code, body)
	}
	code, body = postIngest(t, url, "application/x-ndjson", "{\"a\":1}\n\n{\"a\":2}\n", "Idempotency-Key", "r1")
	if code != http.StatusAccepted || !strings.Contains(body, `"duplicate":true`) {
		t.Fatalf("the same request again: %d %s", code, body)
	}
	code, body = postIngest(t, url+"?format=raw", "application/x-ndjson", "not\njson", "Weir-Key", "user-7")
	var a ingestAnswer
	if code != http.StatusAccepted || json.Unmarshal([]byte(body), &a) != nil || a.Records != 1 || len(a.ID) != 24 {
		t.Fatalf("raw: %d %s", code, body)
	}

	src, err := in.NewSource(json.RawMessage(`{"endpoint":"clicks"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	splits, err := src.Splits(context.Background())
	if err != nil || len(splits) != 1 {
		t.Fatalf("splits %q, %v", splits, err)
	}
	r, err := src.Open(context.Background(), splits[0], nil, runtime.SourceEnv{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	for len(got) < 3 {
		var w abi.Writer
		if _, err := r.Read(context.Background(), &w, 10); err != nil {
			t.Fatal(err)
		}
		for rd := abi.NewReader(w.Bytes()); rd.Next(); {
			got = append(got, fmt.Sprintf("%s=%s", rd.Entry().Key, rd.Entry().Value))
		}
	}
	if want := "r1={\"a\":1},r1={\"a\":2},user-7=not\njson"; strings.Join(got, ",") != want {
		t.Errorf("records %q, want %q", strings.Join(got, ","), want)
	}
}

func TestIngestBadRequests(t *testing.T) {
	_, hs := ingestServer(t)
	url := hs.URL + "/v1/ingest/"
	tests := []struct {
		name, endpoint, ctype, body string
		header                      []string
		code                        int
		want                        string
	}{
		{"bad endpoint", "a.b", "text/plain", "x", nil, 404, `ingest endpoint: "a.b" has '.'`},
		{"empty body", "e", "text/plain", "", nil, 400, "empty request body"},
		{"invalid JSON line", "e", "application/jsonl", "{}\n{oops\n", nil, 400, "line 2 is not valid JSON"},
		{"only blank lines", "e", "application/x-ndjson", "\n \n", nil, 400, "holds no JSON line"},
		{"bad format", "e?format=xml", "text/plain", "x", nil, 415, `query parameter format: "xml" is not one of`},
		{"bad idempotency key", "e", "text/plain", "x", []string{"Idempotency-Key", "a b"}, 400, "header Idempotency-Key"},
		{"too large", "e", "text/plain", strings.Repeat("x", maxIngestBytes+1), nil, 413, "larger than the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := postIngest(t, url+tt.endpoint, tt.ctype, tt.body, tt.header...)
			if code != tt.code || !strings.Contains(body, tt.want) {
				t.Errorf("got %d %q, want %d and %q", code, body, tt.code, tt.want)
			}
		})
	}
}

func TestHTTPSourceOptionErrors(t *testing.T) {
	in := &Ingest{url: "nats://x"}
	for _, tt := range []struct{ opts, want string }{
		{`{}`, "http source: option endpoint: required"},
		{`{"endpoint":"a/b"}`, `option endpoint: "a/b" has '/'`},
		{`{"endpoint":"e","onGap":"x"}`, `http source: option onGap: "x" is not one of`},
		{`{"endpoint":"e","stream":"x"}`, `unknown field "stream"`},
	} {
		if _, err := in.NewSource(json.RawMessage(tt.opts), ""); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.opts, err, tt.want)
		}
	}
}

package httpcall

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/runtime"
)

func TestCall(t *testing.T) {
	var inFlight, most atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch string(body) {
		case "slow":
			<-release
		case "busy":
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		case "bad":
			http.Error(w, "no such order", http.StatusNotFound)
			return
		case "wait":
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(20 * time.Millisecond)
			inFlight.Add(-1)
		}
		w.Write([]byte(r.Method + " " + r.Header.Get("Idempotency-Key") + " " + string(body)))
	}))
	defer srv.Close()
	defer close(release)
	c, err := New([]Endpoint{
		{Name: "svc", URL: srv.URL},
		{Name: "short", URL: srv.URL, Timeout: 50 * time.Millisecond},
		{Name: "narrow", URL: srv.URL, MaxConcurrency: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	r, err := c.Call(ctx, "svc", []byte("hello"), []byte("k-1"))
	if err != nil || r.Status != 200 || string(r.Body) != "POST k-1 hello" {
		t.Fatalf("call = %d %q, %v; want 200 \"POST k-1 hello\"", r.Status, r.Body, err)
	}
	if r, err := c.Call(ctx, "svc", []byte("bad"), []byte("k-2")); err != nil || r.Status != 404 {
		t.Errorf("a 404 = %d, %v; want a response with status 404 (it is a result, journaled)", r.Status, err)
	}
	if _, err := c.Call(ctx, "svc", []byte("busy"), []byte("k-3")); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a 503 gave %v; want an error naming the status (retry later, not journaled)", err)
	}
	_, err = c.Call(ctx, "nope", nil, []byte("k"))
	if !errors.Is(err, runtime.ErrUnknownEndpoint) || !strings.Contains(err.Error(), "narrow, short, svc") {
		t.Errorf("unknown endpoint gave %v; want ErrUnknownEndpoint listing the configured ones", err)
	}
	if _, err := c.Call(ctx, "svc", nil, []byte("a b")); !errors.Is(err, runtime.ErrBadCall) {
		t.Errorf("a key with a space gave %v; want ErrBadCall", err)
	}
	start := time.Now()
	_, err = c.Call(ctx, "short", []byte("slow"), []byte("k-4"))
	if err == nil || !strings.Contains(err.Error(), "timeout of 50ms") || time.Since(start) > 2*time.Second {
		t.Errorf("a slow endpoint gave %v after %v; want a time-out error after about 50ms", err, time.Since(start))
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.Call(ctx, "narrow", []byte("wait"), []byte("k")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m > 2 {
		t.Errorf("%d calls were in flight at once; maxConcurrency is 2", m)
	}
}

func TestNewRejects(t *testing.T) {
	for _, tt := range []struct {
		name string
		eps  []Endpoint
		want string
	}{
		{"no name", []Endpoint{{URL: "http://x"}}, "1 to 255 bytes"},
		{"relative url", []Endpoint{{Name: "a", URL: "/x"}}, "not an absolute http"},
		{"ftp", []Endpoint{{Name: "a", URL: "ftp://x"}}, "not an absolute http"},
		{"twice", []Endpoint{{Name: "a", URL: "http://x"}, {Name: "a", URL: "http://y"}}, "defined twice"},
		{"timeout", []Endpoint{{Name: "a", URL: "http://x", Timeout: time.Hour}}, "timeout 1h0m0s"},
		{"concurrency", []Endpoint{{Name: "a", URL: "http://x", MaxConcurrency: -1}}, "maxConcurrency -1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.eps); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

package payments_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/examples/payments/charge"
	"github.com/weirstream/weir/examples/payments/paysvc"
	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/plugins/httpcall"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// orders reads orders.jsonl as records keyed by customer.
func orders(t *testing.T) []memory.Record {
	t.Helper()
	data, err := os.ReadFile("orders.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var recs []memory.Record
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var o struct{ Customer string }
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, memory.Record{Key: o.Customer, Value: line})
	}
	return recs
}

// want is the output of orders.jsonl, whatever the service's failures: the
// receipts are numbered in the order of the first effective charges, which a
// one-subtask job makes in input order.
var want = []string{
	"alice=order-1 charged receipt-1", "alice=order-1 charged receipt-1", "alice=order-3 declined",
	"bob=order-2 charged receipt-2", "bob=order-5 charged receipt-4", "carol=order-4 charged receipt-3",
}

// TestCharge runs the operator natively against the payment service: a
// declined order, and an order that appears twice charged once, with one
// receipt (the second call is answered from the journal).
func TestCharge(t *testing.T) {
	svc := &paysvc.Service{}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	post := func(request, key []byte) (weir.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(request))
		req.Header.Set("Idempotency-Key", string(key))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return weir.Response{}, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return weir.Response{Status: resp.StatusCode, Body: body}, err
	}
	h := weirtest.New(t, charge.Operator, nil, weirtest.WithEndpoint(charge.Endpoint, post))
	var got []string
	for _, r := range orders(t) {
		h.Process(weir.Record{Key: []byte(r.Key), Value: []byte(r.Value)})
	}
	for _, r := range h.Output(0) {
		got = append(got, string(r.Key)+"="+string(r.Value))
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := svc.Charged("order-1"); n != 1 {
		t.Errorf("order-1 was charged %d times, want 1", n)
	}
}

// TestFlakyService runs the Wasm build of the operator in the engine against
// the payment service over HTTP while the service answers 503 to 40% of the
// requests: the failure policy retries those records with the same
// idempotency key, and every order is charged once.
func TestFlakyService(t *testing.T) {
	svc := &paysvc.Service{FailRatio: 0.4}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	caller, err := httpcall.New([]httpcall.Endpoint{{Name: charge.Endpoint, URL: srv.URL, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	sink := memory.NewSink()
	examplerun.Run(t, &runtime.Job{
		Name:    "payments",
		Sources: []*runtime.SourceNode{{Name: "orders", Parallelism: 1, Source: memory.NewSource(orders(t))}},
		Operators: []*runtime.OperatorNode{{
			Name: "charge", Parallelism: 1, Inputs: []runtime.Input{{From: "orders", Partition: runtime.KeyBy}},
			Factory:   examplerun.Wasm(t, "charge/wasm"),
			OnFailure: runtime.FailurePolicy{Action: runtime.FailDLQ, Retries: 30, Backoff: time.Millisecond},
		}},
		Sinks:  []*runtime.SinkNode{{Name: "out", Parallelism: 1, Inputs: []runtime.Input{{From: "charge"}}, Sink: sink}},
		Caller: caller,
	})
	if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := 1; i <= 5; i++ {
		order := fmt.Sprintf("order-%d", i)
		if n, want := svc.Charged(order), 1; order == "order-3" && n != 0 || order != "order-3" && n != want {
			t.Errorf("%s was charged %d times", order, n)
		}
	}
}

// Package paysvc is the payment service of the payments example: an HTTP
// handler that is not idempotent by itself (each effective charge takes
// money) but deduplicates by the Idempotency-Key header, as payment APIs do,
// and that fails on purpose: a fraction of requests get 503 before anything
// happens, as an overloaded service would answer.
package paysvc

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"

	"github.com/weirstream/weir/examples/payments/charge"
)

// maxRequestBytes bounds a request body.
const maxRequestBytes = 1 << 16

// maxAmountCents is the largest charge the service accepts; larger ones are
// declined (402).
const maxAmountCents = 100_000

// Service is the handler. It is safe for concurrent use.
type Service struct {
	// FailRatio is the fraction of requests answered 503 (0 to 1).
	FailRatio float64

	mu       sync.Mutex
	answers  map[string]answer // by idempotency key
	charged  map[string]int    // effective charges per order
	receipts int
}

type answer struct {
	status int
	body   string
}

// ServeHTTP charges the order in the request body, once per idempotency key.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes))
	var req charge.Request
	if r.Method != http.MethodPost || key == "" || err != nil || json.Unmarshal(body, &req) != nil {
		http.Error(w, "POST a JSON charge with an Idempotency-Key", http.StatusBadRequest)
		return
	}
	if rand.Float64() < s.FailRatio {
		http.Error(w, "overloaded, try again", http.StatusServiceUnavailable)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answers == nil {
		s.answers, s.charged = map[string]answer{}, map[string]int{}
	}
	a, seen := s.answers[key]
	if !seen {
		a = answer{status: http.StatusPaymentRequired}
		if req.AmountCents <= maxAmountCents {
			s.receipts++
			s.charged[req.Order]++
			a = answer{status: http.StatusOK, body: fmt.Sprintf("receipt-%d", s.receipts)}
		}
		s.answers[key] = a
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

// Charged returns how many times order was effectively charged.
func (s *Service) Charged(order string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.charged[order]
}

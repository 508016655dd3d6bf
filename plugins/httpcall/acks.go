package httpcall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/weirstream/weir/runtime"
)

// AckOptions are the options of a job's webhook ack target (the spec's acks
// field with kind webhook).
type AckOptions struct {
	URL string `json:"url"`
	// URLEnv names the environment variable that holds the URL instead (it
	// may carry a token).
	URLEnv  string `json:"urlEnv"`
	Batch   int    `json:"batch"`
	Timeout string `json:"timeout"`
	Retries *int   `json:"retries"`
}

// Webhook ack target defaults and limits.
const (
	// DefaultAckRetries is how often a failed request is repeated, with
	// backoff, before the delivery fails (and with it the job's attempt,
	// whose restart delivers again).
	DefaultAckRetries = 3
	maxAckRetries     = 20
	ackBackoff        = 200 * time.Millisecond
	ackMaxBackoff     = 5 * time.Second
	// maxAckBodyBytes is the JSON a request holds at most: a longer piece
	// (long NACK errors) is halved.
	maxAckBodyBytes = 4 << 20
	ackEndpoint     = "acks"
)

// Acks POSTs the final statuses of a job's input messages to a URL: each
// request is one runtime.AckBatch as JSON, of at most batch messages of one
// split, cut at multiples of batch, with the piece's stable id
// (runtime.AckBatch.ID) in the Idempotency-Key header. A 2xx answer is a
// delivery. The runtime delivers a restored checkpoint's statuses again
// after a crash, with the same pieces and keys, so a receiver that keeps the
// keys it has processed sees exactly one status per input message
// (docs/acks.md). It is safe for concurrent use.
type Acks struct {
	caller  *Caller
	url     string
	batch   uint64
	retries int
	sleep   func(context.Context, time.Duration) error
}

var _ runtime.AckSink = (*Acks)(nil)

// NewAcks returns the webhook ack target that the JSON options opts
// describe.
func NewAcks(opts json.RawMessage, _ string) (runtime.AckSink, error) {
	var o AckOptions
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("webhook acks: %w", err)
	}
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("webhook acks: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	batch, err := runtime.AckBatchSize(o.Batch)
	if err != nil {
		bad("batch", "%v", err)
	}
	retries := DefaultAckRetries
	if o.Retries != nil {
		retries = *o.Retries
	}
	if retries < 0 || retries > maxAckRetries {
		bad("retries", "%d is not in 0..%d", retries, maxAckRetries)
	}
	var timeout time.Duration
	if o.Timeout != "" {
		d, err := time.ParseDuration(o.Timeout)
		if err != nil || d <= 0 || d > maxTimeout {
			bad("timeout", "%q is not a duration in (0, %v], like 10s", o.Timeout, maxTimeout)
		}
		timeout = d
	}
	switch {
	case o.URL != "" && o.URLEnv != "":
		bad("urlEnv", "give url or urlEnv, not both")
	case o.URLEnv != "":
		if o.URL = os.Getenv(o.URLEnv); o.URL == "" {
			bad("urlEnv", "environment variable %s is not set or empty (it holds the URL the statuses are POSTed to)", o.URLEnv)
		}
	case o.URL == "":
		bad("url", "missing: the URL the statuses are POSTed to (or give urlEnv)")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c, err := New([]Endpoint{{Name: ackEndpoint, URL: o.URL, Timeout: timeout, MaxConcurrency: 1, ContentType: "application/json"}})
	if err != nil {
		if o.URLEnv != "" {
			return nil, fmt.Errorf("webhook acks: option urlEnv: %s holds %q, not an absolute http or https URL", o.URLEnv, o.URL)
		}
		return nil, fmt.Errorf("webhook acks: option url: %q is not an absolute http or https URL", o.URL)
	}
	return &Acks{caller: c, url: o.URL, batch: batch, retries: retries, sleep: runtime.Sleep}, nil
}

// Deliver POSTs the statuses piece by piece, in order, each until it is
// answered 2xx or its retries are spent.
func (a *Acks) Deliver(ctx context.Context, batches []runtime.AckBatch) error {
	err := runtime.AckPieces(batches, a.batch, maxAckBodyBytes, func(p runtime.AckBatch, body []byte) error {
		if err := a.post(ctx, p.ID(), body); err != nil {
			return fmt.Errorf("POST %s (statuses %s): %w", a.url, p.ID(), err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("webhook acks: %w", err)
	}
	return nil
}

// post sends one piece, repeating it with jittered exponential backoff.
func (a *Acks) post(ctx context.Context, key string, body []byte) error {
	backoff := ackBackoff
	for try := 0; ; try++ {
		resp, err := a.caller.Call(ctx, ackEndpoint, body, []byte(key))
		if err == nil && resp.Status/100 != 2 {
			err = fmt.Errorf("answered %d: %q", resp.Status, resp.Body[:min(len(resp.Body), errorBodyBytes)])
		}
		if err == nil {
			return nil
		}
		if try == a.retries || ctx.Err() != nil {
			return fmt.Errorf("after %d tries: %w", try+1, err)
		}
		if err := a.sleep(ctx, backoff/2+rand.N(backoff/2+1)); err != nil {
			return err
		}
		backoff = min(2*backoff, ackMaxBackoff)
	}
}

// Package httpcall sends the journaled external calls of a job (abi/ABI.md
// §5.3) to HTTP endpoints: the composition root makes a [Caller] from the
// endpoints of the job spec and hands it to the runtime as the job's
// runtime.Caller. Guests have no network of their own; these endpoints are
// all they can reach, by name.
//
// A call is one POST of the request body to the endpoint's URL with the
// idempotency key in the Idempotency-Key header. Every endpoint has a
// time-out (which also bounds the wait for a free slot) and a bound on the
// calls in flight at once, shared by every subtask of the job. Redirects are
// not followed: a 3xx is a response like any other.
package httpcall

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Defaults and limits of an endpoint.
const (
	DefaultTimeout        = 10 * time.Second
	DefaultMaxConcurrency = 16
	maxTimeout            = 10 * time.Minute
	maxConcurrency        = 4096
	// errorBodyBytes is how much of a retry-later answer goes into the error.
	errorBodyBytes = 200
)

// Endpoint is one named endpoint. A zero Timeout or MaxConcurrency means the
// default.
type Endpoint struct {
	Name           string
	URL            string
	Timeout        time.Duration // of one call, waiting for a free slot included
	MaxConcurrency int           // calls in flight at once, over all subtasks
	// ContentType is the requests' Content-Type (application/octet-stream
	// when empty).
	ContentType string
}

// Caller is a runtime.Caller over HTTP. It is safe for concurrent use.
type Caller struct {
	client    *http.Client
	endpoints map[string]*endpoint
	names     string // the configured names, for errors
}

type endpoint struct {
	Endpoint
	slots chan struct{} // one token per call in flight
}

var _ runtime.Caller = (*Caller)(nil)

// New checks the endpoints and returns their Caller: names unique and 1 to
// 255 bytes, URLs absolute http or https, time-outs and concurrency within
// their limits (10 minutes, 4096).
func New(eps []Endpoint) (*Caller, error) {
	c := &Caller{
		client: &http.Client{
			// NB: a redirected POST becomes a GET without its body; following it
			// would call something the job did not name.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		endpoints: map[string]*endpoint{},
	}
	var errs []error
	var names []string
	for _, e := range eps {
		if err := check(&e); err != nil {
			errs = append(errs, err)
			continue
		}
		if c.endpoints[e.Name] != nil {
			errs = append(errs, fmt.Errorf("endpoint %q is defined twice", e.Name))
			continue
		}
		c.endpoints[e.Name] = &endpoint{Endpoint: e, slots: make(chan struct{}, e.MaxConcurrency)}
		names = append(names, e.Name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Strings(names)
	c.names = strings.Join(names, ", ")
	return c, nil
}

// check applies the defaults to e and checks it.
func check(e *Endpoint) error {
	if len(e.Name) == 0 || len(e.Name) > abi.MaxStateNameBytes {
		return fmt.Errorf("endpoint name %q: it must have 1 to %d bytes", e.Name, abi.MaxStateNameBytes)
	}
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("endpoint %q: url %q is not an absolute http or https URL", e.Name, e.URL)
	}
	if e.Timeout == 0 {
		e.Timeout = DefaultTimeout
	}
	if e.MaxConcurrency == 0 {
		e.MaxConcurrency = DefaultMaxConcurrency
	}
	if e.Timeout < 0 || e.Timeout > maxTimeout {
		return fmt.Errorf("endpoint %q: timeout %v is not between 0 and %v", e.Name, e.Timeout, maxTimeout)
	}
	if e.MaxConcurrency < 0 || e.MaxConcurrency > maxConcurrency {
		return fmt.Errorf("endpoint %q: maxConcurrency %d is not between 1 and %d", e.Name, e.MaxConcurrency, maxConcurrency)
	}
	return nil
}

// Call POSTs request to the endpoint named name with the Idempotency-Key
// header set to key. HTTP 408, 429 and 5xx are errors (the endpoint asks to
// retry), as are time-outs and transport failures; any other status is a
// response.
func (c *Caller) Call(ctx context.Context, name string, request, key []byte) (runtime.CallResponse, error) {
	ep := c.endpoints[name]
	if ep == nil {
		if c.names == "" {
			return runtime.CallResponse{}, fmt.Errorf("endpoint %q: %w (the job spec configures none)", name, runtime.ErrUnknownEndpoint)
		}
		return runtime.CallResponse{}, fmt.Errorf("endpoint %q: %w (the job spec configures %s)", name, runtime.ErrUnknownEndpoint, c.names)
	}
	if !headerSafe(key) {
		return runtime.CallResponse{}, fmt.Errorf("endpoint %q: idempotency key %q: %w: an HTTP header carries printable ASCII only", name, key, runtime.ErrBadCall)
	}
	ctx, cancel := context.WithTimeout(ctx, ep.Timeout)
	defer cancel()
	select {
	case ep.slots <- struct{}{}:
		defer func() { <-ep.slots }()
	case <-ctx.Done():
		return runtime.CallResponse{}, fmt.Errorf("endpoint %q: no free slot of %d within the timeout of %v", name, ep.MaxConcurrency, ep.Timeout)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(request))
	if err != nil {
		return runtime.CallResponse{}, fmt.Errorf("endpoint %q: %w", name, err)
	}
	req.Header.Set("Idempotency-Key", string(key))
	req.Header.Set("Content-Type", cmp.Or(ep.ContentType, "application/octet-stream"))
	resp, err := c.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return runtime.CallResponse{}, fmt.Errorf("endpoint %q: no response within the timeout of %v", name, ep.Timeout)
		}
		return runtime.CallResponse{}, fmt.Errorf("endpoint %q: %w", name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, abi.MaxValueBytes+1))
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return runtime.CallResponse{}, fmt.Errorf("endpoint %q: the response did not arrive within the timeout of %v", name, ep.Timeout)
	case err != nil:
		return runtime.CallResponse{}, fmt.Errorf("endpoint %q: reading the response: %w", name, err)
	case len(body) > abi.MaxValueBytes:
		return runtime.CallResponse{}, fmt.Errorf("endpoint %q: %w (over %d bytes)", name, runtime.ErrResponseTooLarge, abi.MaxValueBytes)
	case retryLater(resp.StatusCode):
		return runtime.CallResponse{}, fmt.Errorf("endpoint %q answered %s: %q", name, resp.Status, body[:min(len(body), errorBodyBytes)])
	}
	return runtime.CallResponse{Status: resp.StatusCode, Body: body}, nil
}

// retryLater reports whether an HTTP status asks the client to try again.
func retryLater(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// headerSafe reports whether key can be an HTTP header value as it is.
func headerSafe(key []byte) bool {
	for _, b := range key {
		if b < 0x21 || b > 0x7e {
			return false
		}
	}
	return true
}

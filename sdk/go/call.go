package weir

import "encoding/binary"

// Response is an endpoint's answer to Context.Call.
type Response struct {
	Status int    // the HTTP status code for HTTP endpoints
	Body   []byte // the operator's own copy
}

// initialCallBytes is the first size of the buffer Call reads a response into;
// a larger response costs one more host call, answered from the journal.
const initialCallBytes = 4 << 10

// Call sends request to the job's endpoint named endpoint (ABI §5.3) with
// the idempotency key key, and returns the response. The host journals the
// response in the state of the current key before it returns it: a replay
// after a restore, or any later call with the same key, gets the journaled
// response and the endpoint is not called again. A call whose response was
// not journaled (the job restarted from an earlier checkpoint) is sent again
// with the same key, so the endpoint must deduplicate by key (for HTTP, the
// Idempotency-Key header). Use one key per request: a key used again with a
// different request fails with BadArgument.
//
// It blocks until the response arrives or the endpoint's time-out passes. A
// failure is an *Error whose Code says why: NotFound (no endpoint of that
// name in the job spec), Unavailable (no response; retrying with the same key
// is safe, and failing the batch does that), BadArgument, LimitExceeded or
// NotAllowed (the operator's input is not keyed). The operator's input must
// be keyed.
func (c *Context) Call(endpoint string, request, key []byte) (Response, error) {
	in := c.in
	s := &in.state
	s.callName = append(s.callName[:0], endpoint...)
	if s.call == nil {
		s.call = make([]byte, initialCallBytes)
	}
	for range 2 {
		n := in.host.call(c.entry, s.callName, request, key, s.call)
		switch {
		case n < 0:
			return Response{}, in.hostFailed(Code(-n), "call", s.callName)
		case n < 4:
			return Response{}, in.hostFailed(Internal, "call (a response shorter than its status)", s.callName)
		case n <= int64(len(s.call)):
			r := s.call[:n]
			return Response{Status: int(binary.LittleEndian.Uint32(r)), Body: append([]byte(nil), r[4:]...)}, nil
		}
		s.call = make([]byte, n)
	}
	// INVARIANT: the second call is answered from the journal, with the size
	// the first one reported.
	return Response{}, in.hostFailed(Internal, "call (the journaled response changed size)", s.callName)
}

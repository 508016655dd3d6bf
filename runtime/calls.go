package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/weirstream/weir/abi"
)

// The call journal (abi/ABI.md §5.3) is keyed state in the runtime namespace
// namespaceCalls:
//
//	key group (2) | 0 (1) | namespaceCalls (1) | record key length (4) | record key | idempotency key
//
// and its value is the SHA-256 of the request (32 bytes) followed by the
// response as the guest reads it (abi.AppendCallResponse). Being keyed state,
// it is checkpointed, restored and rescaled with the key group, and the
// failure policy's transactional state (txstate.go) discards it with the
// other writes of a failed call.
//
// An entry expires the endpoint's journal TTL (Job.CallJournalTTL) after it
// was written, in processing time. Each entry has a timer of the runtime's
// own, in namespace namespaceCallExpiry, whose key is the entry's key after
// the namespace byte (record key length, record key, idempotency key): the
// subtask fires those timers as it fires its processing-time timers, and each
// deletes its entry. Timers and entries are keyed state alike, so expiry is
// checkpointed, restored and rescaled with them, and the timer of an entry
// that a failed call discards is discarded with it.
//
// INVARIANT: an entry has exactly one expiry timer. Entries are written once
// (a key names one request) and deleted only by their timer, so a timer that
// fires deletes the entry it was set for, never a later one of the same key.

// callDigestBytes is the size of the request digest that starts a journal value.
const callDigestBytes = sha256.Size

// callKeyPrefixBytes is the size of the key group and namespace bytes that
// start a journal key; the rest is its expiry timer's key.
const callKeyPrefixBytes = 4

// maxCallExpiries bounds the journal entries one firing of the expiry timers
// deletes, so that a backlog (after a long stop) is worked off tick by tick
// rather than in one pause.
const maxCallExpiries = 4096

// appendCallKey appends the journal key of (kg, record key, idempotency key).
func appendCallKey(dst []byte, kg int, key, idemKey []byte) []byte {
	dst = append(dst, byte(kg>>8), byte(kg), 0, namespaceCalls)
	dst = append(dst, byte(len(key)>>24), byte(len(key)>>16), byte(len(key)>>8), byte(len(key)))
	dst = append(dst, key...)
	return append(dst, idemKey...)
}

// Call implements Env.Call: the journaled response for (entry's key, key), or
// a call through the job's Caller whose response is journaled first. The
// reason for a failure is kept in e.callNote for the error of the batch.
func (e *opEnv) Call(entry uint32, endpoint, request, key []byte) ([]byte, uint32) {
	if e.shadow != nil || e.p.replaying {
		// NB: a shadow and a replay have no side effects (shadow.go,
		// journal.go): their external calls are refused.
		return nil, uint32(abi.NotAllowed)
	}
	kg, recordKey, code := e.scope(entry)
	if code != 0 {
		return nil, code
	}
	switch {
	case len(endpoint) == 0 || len(endpoint) > abi.MaxStateNameBytes:
		return nil, e.callFailed(abi.BadArgument, fmt.Errorf("endpoint name of %d bytes: it must have 1 to %d", len(endpoint), abi.MaxStateNameBytes))
	case len(key) == 0:
		return nil, e.callFailed(abi.BadArgument, fmt.Errorf("call to endpoint %q with an empty idempotency key", endpoint))
	}
	digest := sha256.Sum256(request)
	e.key = appendCallKey(e.key[:0], kg, recordKey, key)
	v, ok, err := e.p.state.Get(e.key)
	if err != nil {
		return nil, e.fail("call journal get", err)
	}
	if ok {
		if len(v) < callDigestBytes+abi.CallResponseHeaderBytes {
			return nil, e.fail("call journal get", fmt.Errorf("journal entry of %d bytes for idempotency key %q is too short", len(v), key))
		}
		if !bytes.Equal(v[:callDigestBytes], digest[:]) {
			return nil, e.callFailed(abi.BadArgument, fmt.Errorf("idempotency key %q was used before with a different request: a key names one request", key))
		}
		return v[callDigestBytes:], 0
	}
	caller := e.p.t.at.job.Caller
	if caller == nil {
		return nil, e.callFailed(abi.NotFound, fmt.Errorf("endpoint %q: %w (the job spec configures no endpoints)", endpoint, ErrUnknownEndpoint))
	}
	resp, err := caller.Call(e.ctx, string(endpoint), request, key)
	if err != nil && e.ctx.Err() != nil {
		// NB: the subtask is stopping (a restart, a cancel): the missing
		// response is not the record's fault, so it must not count as a guest
		// failure that the failure policy could dead-letter.
		return nil, e.fail("call", fmt.Errorf("endpoint %q: %w", endpoint, context.Cause(e.ctx)))
	}
	switch {
	case errors.Is(err, ErrUnknownEndpoint):
		return nil, e.callFailed(abi.NotFound, err)
	case errors.Is(err, ErrBadCall):
		return nil, e.callFailed(abi.BadArgument, err)
	case errors.Is(err, ErrResponseTooLarge):
		return nil, e.callFailed(abi.LimitExceeded, err)
	case err != nil:
		return nil, e.callFailed(abi.Unavailable, err)
	case len(resp.Body) > abi.MaxValueBytes:
		return nil, e.callFailed(abi.LimitExceeded, fmt.Errorf("endpoint %q: a response body of %d bytes: %w", endpoint, len(resp.Body), ErrResponseTooLarge))
	}
	e.callBuf = append(e.callBuf[:0], digest[:]...)
	e.callBuf = abi.AppendCallResponse(e.callBuf, uint32(resp.Status), resp.Body)
	// NB: journaled before the guest sees it, so that whatever the guest does
	// with it is replayed with the same response.
	if err := e.p.state.Set(e.key, e.callBuf); err != nil {
		return nil, e.fail("call journal put", err)
	}
	expires := e.p.t.at.clock.Now().UnixMilli() + max(e.p.t.at.job.callJournalTTL(endpoint).Milliseconds(), 1)
	// NB: add, not set: by the invariant above, an entry that was not there
	// has no timer.
	if err := e.p.callExpiry.add(kg, abi.KindProcessingTime, expires, e.key[callKeyPrefixBytes:]); err != nil {
		return nil, e.fail("call journal expiry timer set", err)
	}
	return e.callBuf[callDigestBytes:], 0
}

// expireCalls deletes the journal entries whose TTL has passed, at most
// maxCallExpiries of them; the others go on the next tick or batch.
func (p *operatorProc) expireCalls() error {
	if p.callExpiry == nil {
		return nil
	}
	now := p.t.at.clock.Now().UnixMilli()
	_, err := p.callExpiry.pop(abi.KindProcessingTime, now, maxCallExpiries, func(t timer) (bool, error) {
		p.env.key = append(append(p.env.key[:0], byte(t.kg>>8), byte(t.kg), 0, namespaceCalls), t.key...)
		return true, p.state.Delete(p.env.key)
	})
	if err != nil {
		return fmt.Errorf("operator %s: expire call journal entries: %w", p.t.id, err)
	}
	return nil
}

// callFailed keeps the first reason a call of the batch failed and returns
// its code.
func (e *opEnv) callFailed(c abi.Code, err error) uint32 {
	if e.callNote == nil {
		e.callNote = fmt.Errorf("call: %s: %w", c, err)
	}
	return uint32(c)
}

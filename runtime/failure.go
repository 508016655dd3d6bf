package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/weirstream/weir/abi"
)

// Failure policies: what an operator does when the guest fails on a record (a
// trap, a time-out or an error status; not a failure of the host, such as a
// state storage error, which fails the attempt and restarts the job as before).
//
// With retries or the dlq action, every record batch runs as a transaction: the
// state writes go through a txState and the emitted records are held back, and
// both are kept only when the call succeeds. A failed batch is split — at the
// entry the guest reported, or in halves when it reported none — and the parts
// run again, down to the single record that fails. That record is tried again
// Retries times, after Backoff, doubling; if it still fails, Action decides:
// FailStop fails the job for good (a restart would replay the same record into
// the same failure), FailDLQ writes it to the dead-letter queue (dlq.go) and
// goes on with the next record. A deterministic guest gives the same outcome on
// every replay, so the split and the retries keep exactly-once.
//
// The default (FailStop, no retries) runs batches directly, as without a
// policy, and fails the job at the first failing record.

// FailureAction is what happens to a record that failed every try.
type FailureAction int

const (
	// FailStop fails the job, without restarts, with an error naming the
	// operator, subtask, source position and record (*RecordFailedError).
	FailStop FailureAction = iota
	// FailDLQ writes the record to the job's dead-letter queue, with the
	// checkpoint, and goes on.
	FailDLQ
)

func (a FailureAction) String() string {
	switch a {
	case FailStop:
		return "stop"
	case FailDLQ:
		return "dlq"
	}
	return fmt.Sprintf("FailureAction(%d)", int(a))
}

// FailurePolicy is an operator's onFailure setting.
type FailurePolicy struct {
	Action FailureAction
	// Retries is how many more times a failing record is tried, alone, before
	// Action applies (0..MaxRetries).
	Retries int
	// Backoff is the wait before the first retry (default DefaultBackoff); it
	// doubles for each further retry, up to MaxBackoff.
	Backoff time.Duration
}

// Limits and defaults of FailurePolicy.
const (
	MaxRetries     = 100
	DefaultBackoff = 100 * time.Millisecond
	MaxBackoff     = 30 * time.Second
)

// isolates reports whether batches run as transactions under p.
func (p FailurePolicy) isolates() bool { return p.Action == FailDLQ || p.Retries > 0 }

// backoff returns the wait before retry n (1-based).
func (p FailurePolicy) backoff(n int) time.Duration {
	d := p.Backoff
	if d <= 0 {
		d = DefaultBackoff
	}
	for i := 1; i < n && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// RecordFailedError is the error of a job whose operator failed on a record
// every time it was tried under FailStop (or on a timer, under any policy).
// The job fails at once: it does not restart, since replaying the record
// would fail again.
type RecordFailedError struct {
	Err   *OperatorError
	Tries int
}

func (e *RecordFailedError) Error() string {
	return fmt.Sprintf("%v (tried %d %s; onFailure policy stop fails the job without restarts)", e.Err, e.Tries, plural(e.Tries, "time", "times"))
}

// Unwrap returns the *OperatorError.
func (e *RecordFailedError) Unwrap() error { return e.Err }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// records runs a batch of records from the operator's inputs, through the
// shadow first when one runs (shadow.go).
func (p *operatorProc) records(ctx context.Context, b []byte) error {
	p.journal(b)
	sh := p.runShadow(ctx, b)
	err := p.liveRecords(ctx, b)
	if sh != nil {
		p.compare(sh, b, err == nil)
	}
	return err
}

func (p *operatorProc) liveRecords(ctx context.Context, b []byte) error {
	if p.tx == nil {
		err, guest := p.call(ctx, b)
		switch {
		case err == nil:
			return p.t.outs.flush()
		case guest:
			return &RecordFailedError{Err: p.describe(err, b), Tries: 1}
		}
		return p.describe(err, b)
	}
	if err := p.guarded(ctx, b); err != nil {
		return err
	}
	return p.t.outs.flush()
}

// try runs b as one transaction: its state writes and emitted records are kept
// only when it succeeds. guest reports that the guest failed (rather than the
// host).
func (p *operatorProc) try(ctx context.Context, b []byte) (err error, guest bool) {
	p.tx.begin()
	p.env.hold = true
	err, guest = p.call(ctx, b)
	p.env.hold = false
	if err != nil {
		p.tx.rollback()
		p.env.dropHeld()
		return err, guest
	}
	if err := p.tx.commit(); err != nil {
		return fmt.Errorf("operator %s: apply state writes: %w", p.t.id, err), false
	}
	return p.env.releaseHeld(), false
}

// guarded runs b under the failure policy: see the comment at the top.
func (p *operatorProc) guarded(ctx context.Context, b []byte) error {
	err, guest := p.try(ctx, b)
	if err == nil {
		return nil
	}
	if !guest {
		return p.describe(err, b)
	}
	if n := abi.Count(b); n > 1 {
		lo, hi := n/2, n/2
		var oe *OperatorError
		if errors.As(err, &oe) && oe.Entry >= 0 && oe.Entry < n {
			lo, hi = oe.Entry, oe.Entry+1
		}
		for _, r := range [][2]int{{0, lo}, {lo, hi}, {hi, n}} {
			if r[0] == r[1] {
				continue
			}
			sub := p.subBatch(b, r[0], r[1])
			err := p.guarded(ctx, sub)
			p.t.at.pool.put(sub)
			if err != nil {
				return err
			}
		}
		return nil
	}
	tries := 1
	for ; tries <= p.node.OnFailure.Retries; tries++ {
		d := p.node.OnFailure.backoff(tries)
		p.t.log.Warn("operator failed on a record; retrying", "try", tries, "backoff", d, "err", err)
		if err := Sleep(ctx, d); err != nil {
			return err
		}
		if err, guest = p.try(ctx, b); err == nil {
			return nil
		}
		if !guest {
			return p.describe(err, b)
		}
	}
	var oe *OperatorError
	if !errors.As(err, &oe) {
		oe = &OperatorError{Err: err}
	}
	oe.Entry = 0 // the batch holds this one record
	oe = p.describe(oe, b)
	if p.node.OnFailure.Action == FailStop {
		return &RecordFailedError{Err: oe, Tries: tries}
	}
	p.deadLetter(oe, b, tries)
	return nil
}

// subBatch copies entries [from, to) of b into a new batch from the pool.
func (p *operatorProc) subBatch(b []byte, from, to int) []byte {
	var w abi.Writer
	w.Use(p.t.at.pool.get())
	w.Reset()
	r := abi.NewReader(b)
	for r.Next() {
		if i := r.Index(); i >= from && i < to {
			w.AppendRaw(r.Raw())
		}
	}
	return w.Detach()
}

// deadLetter keeps the record of the one-record batch b for the DLQ; the next
// checkpoint barrier hands it to the coordinator.
func (p *operatorProc) deadLetter(oe *OperatorError, b []byte, tries int) {
	e, _ := abi.EntryAt(b, 0)
	cause := "failed"
	switch {
	case oe.Err != nil:
		cause = oe.Err.Error()
	case oe.Code != abi.OK:
		cause = "status " + oe.Code.String()
	}
	d := DeadLetter{
		Job: p.t.at.job.Name, Operator: p.node.Name, Subtask: p.t.id.subtask, Module: p.module,
		Error: cause, Tries: tries, Attempt: max(p.attempt, 1), Position: oe.Position,
		TrackingID: e.TrackingID, Key: append([]byte(nil), e.Key...), Value: append([]byte(nil), e.Value...),
		Headers: append([]byte(nil), e.Headers...), Timestamp: e.Timestamp, TimeUnixMs: p.t.at.clock.Now().UnixMilli(),
	}
	p.t.log.Warn("record written to the dead-letter queue", "operator", p.node.Name, "tries", tries, "position", oe.Position, "err", cause)
	p.dead = append(p.dead, d)
}

// Sleep waits d or until ctx is done, whichever comes first, and returns
// ctx's error in the second case. It is the one wait of the runtime and its
// plugins (retry backoff, source pacing), so a cancelled job never sits out
// a timer.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runInjected runs the resubmitted dead letters queued for this subtask, each
// as a one-record batch with the next attempt number. It runs before anything
// else the subtask does, so the records run before the next barrier.
func (p *operatorProc) runInjected(ctx context.Context) error {
	for _, d := range p.t.at.takeInjections(p.t.id) {
		var w abi.Writer
		w.Use(p.t.at.pool.get())
		w.Reset()
		w.Append(abi.Entry{Kind: abi.KindRecord, Key: d.Key, Value: d.Value, Headers: d.Headers, Timestamp: d.Timestamp, TrackingID: d.TrackingID})
		b := w.Detach()
		p.attempt = d.Attempt + 1
		err := p.records(ctx, b)
		p.attempt = 0
		p.t.at.pool.put(b)
		if err != nil {
			return fmt.Errorf("resubmitted dead letter %d: %w", d.ID, err)
		}
	}
	return nil
}

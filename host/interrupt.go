package host

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// Reasons an interrupter raises the flag of a call.
var (
	errCallTimeout    = errors.New("call time limit reached")
	errCallerCanceled = errors.New("caller's context is done")
)

// interrupter stops the calls into one instrumented instance (see
// instrument): it raises the instance's interrupt flag, the exported global
// interruptExport, when a call runs past its time limit or when the caller's
// context is done, and the guest then traps at its next visit to $yield, at
// most yieldEvery loop iterations or function entries later.
//
// The timer and the context callback are reused from call to call, so one of
// them may fire late, after its call has ended, or even during the next call.
// They therefore decide under mu, from the state of the call in progress
// rather than from the event that woke them: the timer raises the flag only if
// a call is active and its deadline has passed, the context callback only if
// a call is active and that call's context is done. A stale wake-up finds
// either no active call or a condition that does not hold, and does nothing.
// Every write of the flag happens under mu as well. (The guest reads the flag
// in machine code, outside Go's memory model; the write is one aligned store,
// and $yield reads the flag after an exit to Go, so no compiler can keep an
// old value of it.)
//
// An interrupter is used by one goroutine at a time (begin, the call, end);
// its callbacks run on others.
type interrupter struct {
	flag api.MutableGlobal
	// timer calls timeUp; it is reset per call, so a call allocates no timer.
	timer *time.Timer
	// callerDone is onCallerDone bound once, so that watching a caller's
	// context does not allocate a closure per call.
	callerDone func()
	stop       func() bool // unregisters callerDone; nil if the caller cannot be cancelled

	mu       sync.Mutex
	active   bool            // a call is between begin and end
	paused   time.Time       // when pause stopped the clock of the active call; zero when running
	deadline time.Time       // of the active call
	caller   context.Context // of the active call
	cause    error           // why the flag was raised during the active call, or nil
}

// newInterrupter returns the interrupter of the instance whose interrupt flag
// is flag.
func newInterrupter(flag api.MutableGlobal) *interrupter {
	x := &interrupter{flag: flag}
	x.timer = time.AfterFunc(math.MaxInt64, x.timeUp)
	x.timer.Stop()
	x.callerDone = x.onCallerDone
	return x
}

// begin clears the flag and arms x for one call of at most timeout on behalf
// of ctx. end must follow.
func (x *interrupter) begin(ctx context.Context, timeout time.Duration) {
	x.mu.Lock()
	x.active, x.cause, x.caller = true, nil, ctx
	x.deadline = time.Now().Add(timeout)
	x.flag.Set(0)
	x.mu.Unlock()
	x.timer.Reset(timeout)
	if ctx.Done() != nil {
		x.stop = context.AfterFunc(ctx, x.callerDone)
	}
}

// end disarms x after the call and returns why the flag was raised during it
// (errCallTimeout or errCallerCanceled), or nil. A call that returned without
// an error completed even if the flag was raised after its last loop header;
// the next begin clears the flag.
func (x *interrupter) end() error {
	x.timer.Stop()
	if x.stop != nil {
		x.stop()
		x.stop = nil
	}
	x.mu.Lock()
	cause := x.cause
	x.active, x.caller, x.paused = false, nil, time.Time{}
	x.mu.Unlock()
	return cause
}

// pause stops the clock of the active call while the host waits on its
// behalf (an external call); resume starts it again with the deadline moved
// by the pause. The caller's context still interrupts a paused call.
func (x *interrupter) pause() {
	x.mu.Lock()
	if x.active {
		x.paused = time.Now()
	}
	x.mu.Unlock()
}

// resume ends a pause; see pause.
func (x *interrupter) resume() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.active || x.paused.IsZero() {
		return
	}
	x.deadline = x.deadline.Add(time.Since(x.paused))
	x.paused = time.Time{}
	if x.cause == nil {
		x.timer.Reset(time.Until(x.deadline))
	}
}

// timeUp raises the flag if the active call is past its deadline and not paused.
func (x *interrupter) timeUp() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.active && x.cause == nil && x.paused.IsZero() && !time.Now().Before(x.deadline) {
		x.raise(errCallTimeout)
	}
}

// onCallerDone raises the flag if the active call's context is done.
func (x *interrupter) onCallerDone() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.active && x.cause == nil && x.caller != nil && x.caller.Err() != nil {
		x.raise(errCallerCanceled)
	}
}

// raise sets the flag. x.mu must be held.
func (x *interrupter) raise(cause error) {
	x.cause = cause
	x.flag.Set(1)
}

// close stops the timer; a callback already running finds no active call.
func (x *interrupter) close() {
	x.timer.Stop()
}

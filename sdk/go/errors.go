package weir

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/weirstream/weir/sdk/go/internal/wire"
)

// Code is a status code of ABI v1 (ABI §8): what host functions return, and what
// the operator returns for a batch. Zero is success; 1..99 are defined by the
// ABI; 100..65535 are the operator's own.
type Code uint32

// Status codes of ABI v1 (ABI §8). They mirror the host's abi package; the
// host-side test in host/native checks that they are equal.
const (
	OK             Code = 0
	NotFound       Code = 1 // state_get: no value for that key
	BufferTooSmall Code = 2 // state_scan: the output buffer cannot hold the next pair
	OutOfBounds    Code = 3 // a pointer/length pair lies outside guest memory
	BadEntry       Code = 4 // the entry index is not one of the current batch
	BadArgument    Code = 5 // a bad state name, timer kind or port
	LimitExceeded  Code = 6 // a key, value or emitted batch is over a limit of ABI §9
	Malformed      Code = 7 // an emitted batch is not valid (ABI §4.3)
	NotAllowed     Code = 8 // no current batch, or state/timers on an input that is not keyed
	Internal       Code = 9 // the host failed; the call fails even if the operator ignores it
	// Unavailable (ABI 1.1): Context.Call got no response (time-out, failed
	// connection, a retry-later answer); calling again with the same
	// idempotency key is safe.
	Unavailable Code = 10

	// FirstGuestCode is the lowest code an operator may use for errors of its
	// own (see Errorf).
	FirstGuestCode Code = 100
	// ErrorCode is the code a batch fails with when the operator returns an
	// error that carries no guest code of its own.
	ErrorCode Code = 100
	// MaxCode is the highest status code.
	MaxCode Code = 65535
)

var codeNames = [...]string{
	OK: "OK", NotFound: "NOT_FOUND", BufferTooSmall: "BUFFER_TOO_SMALL",
	OutOfBounds: "OUT_OF_BOUNDS", BadEntry: "BAD_ENTRY", BadArgument: "BAD_ARGUMENT",
	LimitExceeded: "LIMIT_EXCEEDED", Malformed: "MALFORMED", NotAllowed: "NOT_ALLOWED",
	Internal: "INTERNAL", Unavailable: "UNAVAILABLE",
}

// String returns the ABI name of c ("NOT_FOUND"), "GUEST_ERROR(n)" for an
// operator's code and "UNKNOWN(n)" for a code ABI v1 does not define.
func (c Code) String() string {
	switch {
	case int(c) < len(codeNames):
		return codeNames[c]
	case c >= FirstGuestCode:
		return "GUEST_ERROR(" + strconv.FormatUint(uint64(c), 10) + ")"
	default:
		return "UNKNOWN(" + strconv.FormatUint(uint64(c), 10) + ")"
	}
}

// Limits of ABI v1 (ABI §9), as the SDK checks them before it calls the host.
const (
	MaxKeyBytes       = wire.MaxKeyBytes       // record keys and user keys, in bytes
	MaxValueBytes     = wire.MaxValueBytes     // record values and state values, in bytes
	MaxStateNameBytes = wire.MaxStateNameBytes // state names, in bytes
	MaxPort           = wire.MaxPort           // highest output port; 0 is the main output
)

// NoTimestamp (INT64_MIN) is the timestamp of a record that has no event time,
// and the watermark before the first one is known. Emitting a record with
// Timestamp NoTimestamp emits it without event time.
const NoTimestamp int64 = wire.NoTimestamp

// Error is a failure with an ABI status code: a host call that did not return
// OK (Op names it, for example `state_put "count"`), a check the SDK made in
// its place, or an operator error made with Errorf (Op is empty).
type Error struct {
	Code Code
	Op   string // the host call or SDK operation that failed; empty for Errorf
	Err  error  // the underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Err == nil {
		b.WriteString(e.Code.String())
		return b.String()
	}
	b.WriteString(e.Err.Error())
	b.WriteString(" (")
	b.WriteString(e.Code.String())
	b.WriteString(")")
	return b.String()
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an operator error with status code code, which must be at
// least FirstGuestCode: a batch whose Process or OnTimer returns it (or an
// error that wraps it) fails with that code, and the host reports the message.
// A code outside FirstGuestCode..MaxCode is replaced by ErrorCode.
func Errorf(code Code, format string, args ...any) error {
	if code < FirstGuestCode || code > MaxCode {
		code = ErrorCode
	}
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// CodeOf returns the status code a batch fails with when the operator returns
// err: OK for nil, the code of an operator error (Errorf) that err wraps, and
// ErrorCode for any other error, including failed host calls.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) && e.Code >= FirstGuestCode && e.Code <= MaxCode {
		return e.Code
	}
	return ErrorCode
}

// BatchError is the error of a failed batch, as Native.Process returns it: the
// entry being processed, the status code the Wasm build returns for the same
// failure, and the cause.
type BatchError struct {
	// Entry is the index of the entry that failed, or -1 when the failure is not
	// tied to one entry (a malformed batch header, or the final flush of
	// emitted records).
	Entry int
	// Code is the status code of the failure; 0 when the operator panicked (the
	// Wasm build traps instead, and the host reports the entry from the cursor).
	Code Code
	Err  error
}

func (e *BatchError) Error() string {
	if e.Entry < 0 {
		return fmt.Sprintf("weir: batch failed: %v", e.Err)
	}
	return fmt.Sprintf("weir: entry %d: %v", e.Entry, e.Err)
}

// Unwrap returns e.Err.
func (e *BatchError) Unwrap() error { return e.Err }

// hostError returns the *Error of a host call op that returned c.
func hostError(c Code, op string, name []byte) *Error {
	if name != nil {
		op += " " + strconv.Quote(string(name))
	}
	return &Error{Code: c, Op: op}
}

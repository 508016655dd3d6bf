package abi

import "fmt"

// Version is the ABI version this package describes.
const Version = 1

// MinorVersion is the minor version of ABI v1 this package describes
// (ABI.md §2): 1 added the call host function and the UNAVAILABLE code. A
// minor version only adds imports a guest may leave unused, so every v1
// guest runs on every v1.x host that serves the imports it uses.
const MinorVersion = 1

// ImportModule is the Wasm import module that holds every host function of ABI v1.
const ImportModule = "weir_v1"

// ExportPrefix starts the name of every guest export of ABI v1.
const ExportPrefix = "weir_v1_"

// Guest export names (ABI.md §3).
const (
	ExportReserve = "weir_v1_reserve"
	ExportProcess = "weir_v1_process"
	ExportInit    = "weir_v1_init"
	// ExportMigrate is the optional migrate step of a hot swap (ABI.md §3).
	ExportMigrate = "weir_v1_migrate"
	ExportMemory  = "memory"
	// ExportInitialize is the WASI reactor initialiser, called first if present.
	ExportInitialize = "_initialize"
)

// Host function names in ImportModule (ABI.md §5).
const (
	FuncStateGet    = "state_get"
	FuncStatePut    = "state_put"
	FuncStateDelete = "state_delete"
	FuncStateClear  = "state_clear"
	FuncStateScan   = "state_scan"
	FuncTimerSet    = "timer_set"
	FuncTimerDelete = "timer_delete"
	FuncEmit        = "emit"
	FuncLog         = "log"
	FuncSetError    = "set_error"
	// FuncCall is the journaled external call (ABI.md §5.3), since v1.1.
	FuncCall = "call"
)

// Code is a status code of ABI v1 (ABI.md §8). Zero is success.
type Code uint32

// Status codes of ABI v1.
const (
	OK             Code = 0
	NotFound       Code = 1
	BufferTooSmall Code = 2
	OutOfBounds    Code = 3
	BadEntry       Code = 4
	BadArgument    Code = 5
	LimitExceeded  Code = 6
	Malformed      Code = 7
	NotAllowed     Code = 8
	Internal       Code = 9
	// Unavailable (since v1.1) is a call that got no response to journal: a
	// time-out, a refused connection, or an answer that asks to retry later.
	// Calling again with the same idempotency key is safe.
	Unavailable Code = 10

	// FirstGuestCode is the lowest code an operator may use for errors of its own.
	FirstGuestCode Code = 100
)

var codeNames = [...]string{
	OK: "OK", NotFound: "NOT_FOUND", BufferTooSmall: "BUFFER_TOO_SMALL",
	OutOfBounds: "OUT_OF_BOUNDS", BadEntry: "BAD_ENTRY", BadArgument: "BAD_ARGUMENT",
	LimitExceeded: "LIMIT_EXCEEDED", Malformed: "MALFORMED", NotAllowed: "NOT_ALLOWED",
	Internal: "INTERNAL", Unavailable: "UNAVAILABLE",
}

// String returns the ABI name of c, "GUEST_ERROR(n)" for operator codes and
// "UNKNOWN(n)" for codes ABI v1 does not define.
func (c Code) String() string {
	switch {
	case int(c) < len(codeNames):
		return codeNames[c]
	case c >= FirstGuestCode:
		return fmt.Sprintf("GUEST_ERROR(%d)", uint32(c))
	default:
		return fmt.Sprintf("UNKNOWN(%d)", uint32(c))
	}
}

// Known reports whether c is OK, a code defined by ABI v1, or a guest code.
func (c Code) Known() bool { return int(c) < len(codeNames) || c >= FirstGuestCode }

// Log levels of the log host function; they match log/slog's levels.
const (
	LevelDebug int32 = -4
	LevelInfo  int32 = 0
	LevelWarn  int32 = 4
	LevelError int32 = 8
)

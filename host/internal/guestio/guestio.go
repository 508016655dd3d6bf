// Package guestio is what the Wasm host (package host) and the Extism adapter
// (host/extism) share about a running guest: its stdout, stderr and log
// messages sent to the logger within a budget, the Go runtime's panic line kept
// to explain a trap, and the wording of trap errors. A guest is "the guest" or
// "the plugin" in messages, as Output.What says. Both also check the
// signatures of a module's imports and exports the same way (Signature), and
// name the failing record the same way (EntryError).
package guestio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/sys"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

const (
	// MaxLineBytes bounds one logged line of guest output (stdout, stderr or a
	// log message); the rest of the line is cut.
	MaxLineBytes = 4 << 10
	// MaxPanicLineBytes bounds the panic line kept from stderr to explain a
	// guest that traps or exits.
	MaxPanicLineBytes = 1 << 10
	// MaxErrorMessageBytes bounds the error message a guest sets (set_error,
	// Extism's error_set) as quoted in errors.
	MaxErrorMessageBytes = 4 << 10
)

// Output sends what an instance writes to stdout and stderr, and its log
// calls, to Logger, one record per line, within a budget of Budget bytes per
// call into the guest. It is used only from the goroutine that calls the
// guest.
type Output struct {
	Logger *slog.Logger
	Budget int    // bytes per call
	What   string // "guest" or "plugin", for messages
	left   int    // bytes left in this call
	cut    bool
	// pending holds a partial line per stream (0 stdout, 1 stderr).
	pending [2][]byte
	// panicLine is the last stderr line of the call that starts like a Go
	// runtime panic or fatal error.
	panicLine string
}

// Reset starts the budget of a new call.
func (o *Output) Reset() { o.left, o.cut, o.panicLine = o.Budget, false, "" }

// PanicLine returns the last stderr line of the call that looked like a Go
// runtime panic or fatal error ("" if none).
func (o *Output) PanicLine() string { return o.panicLine }

// Flush logs partial lines left at the end of a call.
func (o *Output) Flush() {
	for i := range o.pending {
		if len(o.pending[i]) > 0 {
			o.line(i, o.pending[i])
			o.pending[i] = o.pending[i][:0]
		}
	}
}

// Stdout and Stderr return the writers to give the guest.
func (o *Output) Stdout() io.Writer { return stream{o, 0} }
func (o *Output) Stderr() io.Writer { return stream{o, 1} }

// stream is the io.Writer of stdout (0) or stderr (1) of an instance.
type stream struct {
	o *Output
	n int
}

var streamNames = [2]string{"stdout", "stderr"}

// Write splits p into lines and logs each complete one; it always reports
// success, so the guest never sees a write error for dropped output.
func (s stream) Write(p []byte) (int, error) {
	o, n := s.o, len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := MaxLineBytes + 1 - len(o.pending[s.n]) // keep one byte more, to know it was cut
			o.pending[s.n] = append(o.pending[s.n], p[:min(len(p), max(room, 0))]...)
			break
		}
		line := p[:i]
		if pend := o.pending[s.n]; len(pend) > 0 {
			line = append(pend, line[:min(len(line), max(MaxLineBytes+1-len(pend), 0))]...)
			o.pending[s.n] = pend[:0]
		}
		o.line(s.n, line)
		p = p[i+1:]
	}
	return n, nil
}

// line logs one complete line of stream n.
func (o *Output) line(n int, line []byte) {
	if n == 1 && (bytes.HasPrefix(line, []byte("panic: ")) || bytes.HasPrefix(line, []byte("fatal error: "))) {
		o.panicLine = string(Cut(line, MaxPanicLineBytes))
	}
	o.Write(slog.LevelInfo, streamNames[n], line)
}

// Write logs msg from source (a stream name, "log"...) at level, within the
// budget.
func (o *Output) Write(level slog.Level, source string, msg []byte) {
	ctx := context.Background()
	if o.cut || !o.Logger.Enabled(ctx, level) {
		return
	}
	if len(msg) > o.left {
		o.cut = true
		o.Logger.LogAttrs(ctx, slog.LevelWarn, fmt.Sprintf("output truncated: the %s wrote more than %d bytes in one call", o.What, o.Budget))
		return
	}
	o.left -= len(msg)
	text := string(Cut(msg, MaxLineBytes)) // NB: a copy; msg may alias guest memory
	if len(msg) > MaxLineBytes {
		text += fmt.Sprintf("... (line cut at %d bytes)", MaxLineBytes)
	}
	o.Logger.LogAttrs(ctx, level, text, slog.String("stream", source))
}

// Logf logs a message of the host about the guest's output, outside the budget.
func (o *Output) Logf(level slog.Level, source, format string, args ...any) {
	o.Logger.LogAttrs(context.Background(), level, fmt.Sprintf(format, args...), slog.String("stream", source))
}

// Cut returns b shortened to at most n bytes, not splitting a UTF-8 sequence.
func Cut(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n]
}

// TrapError describes the failure err of a call into export fn that did not
// return normally (an exit or a trap), with the panic line the guest printed
// before it, if any. what is "guest" or "plugin".
func TrapError(fn, what string, err error, panicLine string) error {
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit) && panicLine != "":
		return fmt.Errorf("%s: %s (the %s exited with code %d)", fn, panicLine, what, exit.ExitCode())
	case errors.As(err, &exit):
		return fmt.Errorf("%s: the %s exited with code %d", fn, what, exit.ExitCode())
	case panicLine != "":
		// NB: a Go guest built with -buildmode=c-shared aborts with
		// "unreachable" after printing its panic to stderr.
		return fmt.Errorf("%s trapped: %s: %w", fn, panicLine, err)
	default:
		return fmt.Errorf("%s trapped: %w", fn, err)
	}
}

// EntryError returns the OperatorError of operator info running module for
// entry i of batch: the entry's index, key, timestamp and tracking id, so that
// the error says which record failed. i < 0 (or a batch that does not hold
// entry i) gives an error without a position.
func EntryError(info runtime.OperatorInfo, module string, batch []byte, i int) *runtime.OperatorError {
	oe := &runtime.OperatorError{Operator: info.Name, Module: module, Subtask: info.Subtask, Entry: -1, Timestamp: abi.NoTimestamp}
	if i < 0 || batch == nil {
		return oe
	}
	if e, ok := abi.EntryAt(batch, i); ok {
		oe.Entry = i
		oe.Key = bytes.Clone(e.Key)
		oe.Timestamp = e.Timestamp
		oe.TrackingID = e.TrackingID
	}
	return oe
}

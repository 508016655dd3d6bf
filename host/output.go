package host

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"unicode/utf8"
)

const (
	// maxLineBytes bounds one logged line of guest output (stdout, stderr or a
	// log message); the rest of the line is cut.
	maxLineBytes = 4 << 10
	// maxErrorMessageBytes bounds the message a guest gives with set_error.
	maxErrorMessageBytes = 4 << 10
	// maxPanicLineBytes bounds the panic line kept from stderr for the error of
	// a guest that exits.
	maxPanicLineBytes = 1 << 10
)

// guestOutput sends what an instance writes to stdout and stderr, and its log
// calls, to the logger, one record per line, within a budget of
// Limits.MaxOutputBytes per call into the guest. It is used only from the
// goroutine that calls the guest.
type guestOutput struct {
	logger *slog.Logger
	budget int // bytes per call
	left   int // bytes left in this call
	cut    bool
	// pending holds a partial line per stream (0 stdout, 1 stderr).
	pending [2][]byte
	// panicLine is the last stderr line of the call that starts like a Go
	// runtime panic or fatal error, kept to explain a guest that exits.
	panicLine string
}

// reset starts the budget of a new call.
func (o *guestOutput) reset() {
	o.left, o.cut, o.panicLine = o.budget, false, ""
}

// flush logs partial lines left at the end of a call.
func (o *guestOutput) flush() {
	for i := range o.pending {
		if len(o.pending[i]) > 0 {
			o.line(i, o.pending[i])
			o.pending[i] = o.pending[i][:0]
		}
	}
}

// streamWriter is the io.Writer wazero gives the guest as stdout or stderr.
type streamWriter struct {
	o      *guestOutput
	stream int
}

var streamNames = [2]string{"stdout", "stderr"}

// Write splits p into lines and logs each complete one; it always reports
// success, so the guest never sees a write error for dropped output.
func (w streamWriter) Write(p []byte) (int, error) {
	o, n := w.o, len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := maxLineBytes + 1 - len(o.pending[w.stream]) // keep one byte more, to know it was cut
			o.pending[w.stream] = append(o.pending[w.stream], p[:min(len(p), max(room, 0))]...)
			break
		}
		line := p[:i]
		if pend := o.pending[w.stream]; len(pend) > 0 {
			line = append(pend, line[:min(len(line), max(maxLineBytes+1-len(pend), 0))]...)
			o.pending[w.stream] = pend[:0]
		}
		o.line(w.stream, line)
		p = p[i+1:]
	}
	return n, nil
}

// line logs one complete line of stream.
func (o *guestOutput) line(stream int, line []byte) {
	if stream == 1 && (bytes.HasPrefix(line, []byte("panic: ")) || bytes.HasPrefix(line, []byte("fatal error: "))) {
		o.panicLine = string(cut(line, maxPanicLineBytes))
	}
	o.write(slog.LevelInfo, streamNames[stream], line)
}

// write logs msg at level within the budget.
func (o *guestOutput) write(level slog.Level, stream string, msg []byte) {
	ctx := context.Background()
	if o.cut || !o.logger.Enabled(ctx, level) {
		return
	}
	if len(msg) > o.left {
		o.cut = true
		o.logger.LogAttrs(ctx, slog.LevelWarn, fmt.Sprintf("output truncated: the guest wrote more than %d bytes in one call", o.budget))
		return
	}
	o.left -= len(msg)
	text := string(cut(msg, maxLineBytes)) // NB: a copy; msg may alias guest memory
	if len(msg) > maxLineBytes {
		text += fmt.Sprintf("... (line cut at %d bytes)", maxLineBytes)
	}
	o.logger.LogAttrs(ctx, level, text, slog.String("stream", stream))
}

// logf logs a message of the host about the guest's output.
func (o *guestOutput) logf(level slog.Level, stream, format string, args ...any) {
	o.logger.LogAttrs(context.Background(), level, fmt.Sprintf(format, args...), slog.String("stream", stream))
}

// cut returns b shortened to at most n bytes, not splitting a UTF-8 sequence.
func cut(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n]
}

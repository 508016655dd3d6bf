package extism

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"unicode/utf8"
)

const (
	// maxLineBytes bounds one logged line of plugin output (stdout, stderr or
	// a log message); the rest of the line is cut.
	maxLineBytes = 4 << 10
	// maxPanicLineBytes bounds the panic line kept from stderr to explain a
	// plugin that traps or exits.
	maxPanicLineBytes = 1 << 10
	// maxErrorBytes bounds the plugin's error message (Extism's error_set) in
	// the errors of Process.
	maxErrorBytes = 4 << 10
)

// output sends what an instance writes to stdout and stderr, and its log
// messages, to the operator's logger, one record per line, within a budget
// of Limits.MaxOutputBytes per call. It is used from the goroutine that calls
// the plugin.
type output struct {
	logger *slog.Logger
	budget int // bytes per call
	left   int // bytes left in this call
	cut    bool
	// pending holds a partial line per stream (0 stdout, 1 stderr).
	pending [2][]byte
	// panicLine is the last stderr line of the call that starts like a Go
	// runtime panic or fatal error.
	panicLine string
}

// reset starts the budget of a new call.
func (o *output) reset() { o.left, o.cut, o.panicLine = o.budget, false, "" }

// flush logs the partial lines left at the end of a call.
func (o *output) flush() {
	for i := range o.pending {
		if len(o.pending[i]) > 0 {
			o.line(i, o.pending[i])
			o.pending[i] = o.pending[i][:0]
		}
	}
}

// stream is the io.Writer of stdout (0) or stderr (1) of an instance.
type stream struct {
	o *output
	n int
}

var streamNames = [2]string{"stdout", "stderr"}

// Write logs each complete line of p and keeps the rest for the next write;
// it always succeeds, so that the plugin never sees an error for output that
// the budget drops.
func (s stream) Write(p []byte) (int, error) {
	o, n := s.o, len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := maxLineBytes + 1 - len(o.pending[s.n]) // one byte more, to know it was cut
			o.pending[s.n] = append(o.pending[s.n], p[:min(len(p), max(room, 0))]...)
			break
		}
		line := p[:i]
		if pend := o.pending[s.n]; len(pend) > 0 {
			line = append(pend, line[:min(len(line), max(maxLineBytes+1-len(pend), 0))]...)
			o.pending[s.n] = pend[:0]
		}
		o.line(s.n, line)
		p = p[i+1:]
	}
	return n, nil
}

// line logs one complete line of stream n.
func (o *output) line(n int, line []byte) {
	if n == 1 && (bytes.HasPrefix(line, []byte("panic: ")) || bytes.HasPrefix(line, []byte("fatal error: "))) {
		o.panicLine = string(cut(line, maxPanicLineBytes))
	}
	o.write(slog.LevelInfo, streamNames[n], line)
}

// write logs msg at level within the budget.
func (o *output) write(level slog.Level, source string, msg []byte) {
	ctx := context.Background()
	if o.cut || !o.logger.Enabled(ctx, level) {
		return
	}
	if len(msg) > o.left {
		o.cut = true
		o.logger.LogAttrs(ctx, slog.LevelWarn, fmt.Sprintf("output truncated: the plugin wrote more than %d bytes in one call", o.budget))
		return
	}
	o.left -= len(msg)
	text := string(cut(msg, maxLineBytes)) // NB: a copy; msg may alias plugin memory
	if len(msg) > maxLineBytes {
		text += fmt.Sprintf("... (line cut at %d bytes)", maxLineBytes)
	}
	o.logger.LogAttrs(ctx, level, text, slog.String("stream", source))
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

package weir

import "fmt"

// Context is the operator's view of the entry being processed: its key and
// timestamp, the watermark, and the ways to act on them (emit records, set
// timers, log). State handles take it to know which key they read and write.
//
// NB: the SDK reuses one Context per instance for every entry; it is valid only
// during the Process or OnTimer call it was passed to, and must not be kept or
// used from another goroutine.
type Context struct {
	in             *instance
	entry          uint32 // index of the entry in the batch (ABI §5)
	key            []byte
	timestamp      int64
	trackingID     uint64
	watermark      int64
	processingTime int64
}

// Key returns the key of the entry being processed: the record's key, or the
// key the timer was set for. State and timers are scoped to it. The slice is
// valid during the call only.
func (c *Context) Key() []byte { return c.key }

// Timestamp returns the event time of the entry being processed, in ms: the
// record's timestamp (NoTimestamp if it has none) or the timer's time. While a
// window emits its result, it is the window's MaxTimestamp.
func (c *Context) Timestamp() int64 { return c.timestamp }

// TrackingID returns the tracking id of the entry being processed (0 for
// timers, and for records that derive from no input message).
func (c *Context) TrackingID() uint64 { return c.trackingID }

// Watermark returns the operator's event-time watermark in ms when the batch
// started, or NoTimestamp if none is known yet. Every record with a timestamp
// at or below it is late.
func (c *Context) Watermark() int64 { return c.watermark }

// ProcessingTime returns the host's processing time in ms when the batch
// started. It is the one non-deterministic input of ABI v1 (ABI §7.3): output
// that depends on it is not replayed identically.
func (c *Context) ProcessingTime() int64 { return c.processingTime }

// SetEventTimer registers an event-time timer at ms for the current key: once
// the watermark reaches ms, OnTimer runs with a Timer of that time and key.
// Setting a timer that exists is a no-op: there is at most one timer per key,
// kind and time, whoever set it. The operator's input must be keyed.
func (c *Context) SetEventTimer(ms int64) error { return c.timer(true, EventTime, ms) }

// DeleteEventTimer removes the current key's event-time timer at ms, if any.
func (c *Context) DeleteEventTimer(ms int64) error { return c.timer(false, EventTime, ms) }

// SetProcessingTimer registers a processing-time timer at ms for the current
// key; see SetEventTimer. Output that depends on it is not replayed
// identically (ABI §7.3).
func (c *Context) SetProcessingTimer(ms int64) error { return c.timer(true, ProcessingTime, ms) }

// DeleteProcessingTimer removes the current key's processing-time timer at ms,
// if any.
func (c *Context) DeleteProcessingTimer(ms int64) error {
	return c.timer(false, ProcessingTime, ms)
}

func (c *Context) timer(set bool, kind TimerKind, ms int64) error {
	in := c.in
	var code Code
	switch {
	case wasmBuild && in.directCalls && set:
		code = Code(wasmTimerSet(c.entry, uint32(kind), ms))
	case wasmBuild && in.directCalls:
		code = Code(wasmTimerDelete(c.entry, uint32(kind), ms))
	case set:
		code = in.host.timerSet(c.entry, kind, ms)
	default:
		code = in.host.timerDelete(c.entry, kind, ms)
	}
	if code != OK {
		op := "timer_delete"
		if set {
			op = "timer_set"
		}
		return in.hostFailed(code, op, nil)
	}
	return nil
}

// LogLevel is the level of a log message; the values are log/slog's.
type LogLevel int32

// Log levels of the log host function (ABI §5).
const (
	LevelDebug LogLevel = -4
	LevelInfo  LogLevel = 0
	LevelWarn  LogLevel = 4
	LevelError LogLevel = 8
)

// Log writes msg to the host log at level, tagged by the host with the
// operator and subtask.
func (c *Context) Log(level LogLevel, msg string) {
	s := &c.in.state
	s.log = append(s.log[:0], msg...)
	c.in.host.log(int32(level), s.log)
}

// Logf is Log with fmt.Sprintf formatting.
func (c *Context) Logf(level LogLevel, format string, args ...any) {
	c.Log(level, fmt.Sprintf(format, args...))
}

package weir

import (
	"bytes"

	"github.com/weirstream/weir/sdk/go/internal/wire"
)

// Record is one data record: what Process receives and what Emit sends.
//
// NB: the slices of a Record handed to Process alias the input batch and are
// valid only during that call; copy what you keep (state writes and Emit copy
// for you). Their capacity is cut to their length, so append copies.
type Record struct {
	Key   []byte
	Value []byte
	// Timestamp is the event time in ms since the Unix epoch, or NoTimestamp.
	// On Emit, 0 means "the timestamp of the entry being processed" (see
	// Context.EmitTo).
	Timestamp int64
	// TrackingID is the id of the input message the record derives from (0:
	// none). On Emit, 0 means "the tracking id of the entry being processed".
	TrackingID uint64
	// Headers are the record's headers in their ABI encoding (ABI §4.2): use
	// Header, RangeHeaders and AppendHeader rather than the bytes.
	Headers []byte
}

// Header returns the value of the first header of r named name; ok is false
// if there is none (or the headers are malformed).
func (r Record) Header(name string) (value []byte, ok bool) {
	for h := r.Headers; ; {
		n, v, rest, more, _ := wire.NextHeader(h)
		if !more {
			return nil, false
		}
		if string(n) == name {
			return v, true
		}
		h = rest
	}
}

// RangeHeaders calls fn for each header of the encoded headers h, in order,
// until fn returns false. It returns an error if h is malformed (headers the
// host hands over never are). The slices are valid as long as h is.
func RangeHeaders(h []byte, fn func(name, value []byte) bool) error {
	for {
		n, v, rest, more, err := wire.NextHeader(h)
		if !more {
			return err
		}
		if !fn(n, v) {
			return nil
		}
		h = rest
	}
}

// AppendHeader appends the header (name, value) to the encoded headers dst and
// returns the extended slice: r.Headers = weir.AppendHeader(r.Headers, "k", v).
// Header names need not be unique; order is kept.
func AppendHeader(dst []byte, name string, value []byte) []byte {
	return wire.AppendHeader(dst, []byte(name), value)
}

// Equal reports whether r and o have the same key, value, timestamp, tracking
// id and headers. A nil slice equals an empty one.
func (r Record) Equal(o Record) bool {
	return r.Timestamp == o.Timestamp && r.TrackingID == o.TrackingID &&
		bytes.Equal(r.Key, o.Key) && bytes.Equal(r.Value, o.Value) && bytes.Equal(r.Headers, o.Headers)
}

// TimerKind says which clock a timer follows.
type TimerKind uint8

// Timer kinds; their values are the entry kinds of ABI §4.2.
const (
	// EventTime timers fire when the watermark reaches their time.
	EventTime TimerKind = TimerKind(wire.KindEventTimer)
	// ProcessingTime timers fire when the host's processing time reaches their
	// time. Output that depends on them is not replayed identically (ABI §7.3).
	ProcessingTime TimerKind = TimerKind(wire.KindProcessingTimer)
)

// String returns "event-time" or "processing-time".
func (k TimerKind) String() string {
	switch k {
	case EventTime:
		return "event-time"
	case ProcessingTime:
		return "processing-time"
	}
	return "invalid timer kind"
}

// Timer is a fired timer, handed to Operator.OnTimer. Key is the key it was set
// for (valid during the call only) and Time the time it was set for, in ms.
type Timer struct {
	Kind TimerKind
	Time int64
	Key  []byte
}

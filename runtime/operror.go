package runtime

import (
	"strconv"
	"strings"
	"time"

	"github.com/weirstream/weir/abi"
)

// maxErrorKeyBytes bounds how much of an entry key an OperatorError message
// shows; longer keys are cut and their full length is given instead.
const maxErrorKeyBytes = 64

// Error renders e on one line (plus whatever lines Err has, such as a Wasm
// stack trace), leaving out the parts that are unknown:
//
//	operator "count" (module "count.wasm") subtask 1: entry 17 (key "foo", timestamp 2025-01-01T00:00:00.000Z, tracking id 0x1f) from <Position>: <Err>
func (e *OperatorError) Error() string {
	var b strings.Builder
	b.WriteString("operator ")
	b.WriteString(strconv.Quote(e.Operator))
	if e.Module != "" {
		b.WriteString(" (module ")
		b.WriteString(strconv.Quote(e.Module))
		b.WriteString(")")
	}
	b.WriteString(" subtask ")
	b.WriteString(strconv.Itoa(e.Subtask))
	if e.Entry >= 0 {
		b.WriteString(": entry ")
		b.WriteString(strconv.Itoa(e.Entry))
		b.WriteString(" (key ")
		writeKey(&b, e.Key)
		if e.Timestamp != abi.NoTimestamp {
			b.WriteString(", timestamp ")
			b.WriteString(time.UnixMilli(e.Timestamp).UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		}
		if e.TrackingID != 0 {
			b.WriteString(", tracking id 0x")
			b.WriteString(strconv.FormatUint(e.TrackingID, 16))
		}
		b.WriteString(")")
	}
	if e.Position != "" {
		b.WriteString(" from ")
		b.WriteString(e.Position)
	}
	b.WriteString(": ")
	switch {
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	case e.Code != abi.OK:
		b.WriteString("status ")
		b.WriteString(e.Code.String())
	default:
		b.WriteString("failed")
	}
	return b.String()
}

// Unwrap returns Err, so that errors.Is and errors.As see the cause (for
// example an *abi.FormatError of a malformed emitted batch).
func (e *OperatorError) Unwrap() error { return e.Err }

// writeKey writes key quoted with %q semantics, cut to maxErrorKeyBytes.
func writeKey(b *strings.Builder, key []byte) {
	if len(key) <= maxErrorKeyBytes {
		b.WriteString(strconv.Quote(string(key)))
		return
	}
	b.WriteString(strconv.Quote(string(key[:maxErrorKeyBytes])))
	b.WriteString("... (")
	b.WriteString(strconv.Itoa(len(key)))
	b.WriteString(" bytes)")
}

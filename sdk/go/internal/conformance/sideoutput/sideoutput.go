// Package sideoutput is the side-output reference operator of the behaviour
// vectors. Each record's value is "<port>:<payload>"; the operator emits the
// record's key with value payload to that port (0..255), keeping the headers.
// The emitted record inherits the input's timestamp and tracking id, unless
// the input has a header "timestamp" (decimal ms, or "none" for no timestamp)
// or "tracking-id" (decimal), which set them explicitly. A value without a
// port in 0..255 fails the batch with status code 103.
package sideoutput

import (
	"strconv"
	"strings"

	weir "github.com/weirstream/weir/sdk/go"
)

// CodeBadValue is the status code of a record whose value names no port.
const CodeBadValue weir.Code = 103

// Operator is the sideoutput operator.
var Operator = weir.Operator{Process: process}

func process(ctx *weir.Context, r weir.Record) error {
	p, payload, ok := strings.Cut(string(r.Value), ":")
	port, err := strconv.Atoi(p)
	if !ok || err != nil || port < 0 || port > weir.MaxPort {
		return weir.Errorf(CodeBadValue, "sideoutput: value %q does not start with a port 0..255 and a colon", r.Value)
	}
	out := weir.Record{Key: r.Key, Value: []byte(payload), Headers: r.Headers}
	if v, ok := r.Header("timestamp"); ok {
		if string(v) == "none" {
			out.Timestamp = weir.NoTimestamp
		} else if out.Timestamp, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return weir.Errorf(CodeBadValue, "sideoutput: header timestamp %q: %v", v, err)
		}
	}
	if v, ok := r.Header("tracking-id"); ok {
		if out.TrackingID, err = strconv.ParseUint(string(v), 10, 64); err != nil {
			return weir.Errorf(CodeBadValue, "sideoutput: header tracking-id %q: %v", v, err)
		}
	}
	ctx.EmitTo(port, out)
	return nil
}

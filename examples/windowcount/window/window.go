// Package window is the operator of the window-count example: the number of
// events per key (a user) in one-minute tumbling event-time windows.
//
// For each key and minute it emits one record when the watermark passes the end
// of the minute: key = the user, value = "<window start, RFC 3339> <count>",
// timestamp = the last millisecond of the window.
package window

import (
	"strconv"
	"time"

	weir "github.com/weirstream/weir/sdk/go"
)

// Operator counts events per key and minute.
var Operator = weir.Operator{Process: process, OnTimer: onTimer}

var perMinute = weir.NewWindow("per-minute", weir.Tumbling(time.Minute), weir.Int64, weir.WindowFuncs[int64]{
	Add: func(n int64, _ weir.Record) (int64, error) { return n + 1, nil },
	Emit: func(ctx *weir.Context, w weir.Window, n int64) error {
		var buf [48]byte // Emit copies: no allocation per window
		v := time.UnixMilli(w.Start).UTC().AppendFormat(buf[:0], time.RFC3339)
		v = append(v, ' ')
		v = strconv.AppendInt(v, n, 10)
		ctx.Emit(weir.Record{Key: ctx.Key(), Value: v})
		return nil
	},
})

func process(ctx *weir.Context, r weir.Record) error { return perMinute.Add(ctx, r) }

func onTimer(ctx *weir.Context, t weir.Timer) error {
	_, err := perMinute.OnTimer(ctx, t)
	return err
}

// Package tumblecount is the windowed reference operator of the behaviour
// vectors: it counts the records of each key in event-time tumbling windows of
// 10 s ([k*10000, (k+1)*10000) ms), without allowed lateness. When a window
// fires (the watermark reaches its end - 1) it emits the key with the count in
// decimal as value, headers "window-start" and "window-end" (decimal ms), the
// timestamp end - 1 and tracking id 0. Late records go to port 1 unchanged.
package tumblecount

import (
	"strconv"
	"time"

	weir "github.com/weirstream/weir/sdk/go"
)

// LatePort is the side output of late records.
const LatePort = 1

var counts = weir.NewWindow("counts", weir.Tumbling(10*time.Second), weir.Int64,
	weir.WindowFuncs[int64]{
		Add: func(n int64, _ weir.Record) (int64, error) { return n + 1, nil },
		Emit: func(ctx *weir.Context, w weir.Window, n int64) error {
			h := weir.AppendHeader(nil, "window-start", strconv.AppendInt(nil, w.Start, 10))
			h = weir.AppendHeader(h, "window-end", strconv.AppendInt(nil, w.End, 10))
			ctx.Emit(weir.Record{Key: ctx.Key(), Value: strconv.AppendInt(nil, n, 10), Headers: h})
			return nil
		},
	},
	weir.LateRecordsTo(LatePort))

// Operator is the tumblecount operator.
var Operator = weir.Operator{
	Process: func(ctx *weir.Context, r weir.Record) error { return counts.Add(ctx, r) },
	OnTimer: func(ctx *weir.Context, t weir.Timer) error {
		_, err := counts.OnTimer(ctx, t)
		return err
	},
}

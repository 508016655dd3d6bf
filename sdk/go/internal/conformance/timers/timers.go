// Package timers is the timer reference operator of the behaviour vectors.
// Each record's value is a command for the record's key:
//
//	event:<ms>              set an event-time timer at ms
//	delete-event:<ms>       delete the event-time timer at ms
//	processing:<ms>         set a processing-time timer at ms
//	delete-processing:<ms>  delete the processing-time timer at ms
//
// It emits nothing for a record. When a timer fires it emits the timer's key
// with the value "fired event <ms> at watermark <wm>" or "fired processing
// <ms> at time <pt>", where wm and pt are the watermark and processing time of
// the batch header; the record inherits the timer's time as timestamp and
// tracking id 0. An unknown command fails the batch with status code 102.
package timers

import (
	"fmt"
	"strconv"
	"strings"

	weir "github.com/weirstream/weir/sdk/go"
)

// CodeBadCommand is the status code of a record that is not a command.
const CodeBadCommand weir.Code = 102

// Operator is the timers operator.
var Operator = weir.Operator{Process: process, OnTimer: onTimer}

func process(ctx *weir.Context, r weir.Record) error {
	cmd, arg, _ := strings.Cut(string(r.Value), ":")
	ms, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return weir.Errorf(CodeBadCommand, "timers: command %q: bad time: %v", r.Value, err)
	}
	switch cmd {
	case "event":
		return ctx.SetEventTimer(ms)
	case "delete-event":
		return ctx.DeleteEventTimer(ms)
	case "processing":
		return ctx.SetProcessingTimer(ms)
	case "delete-processing":
		return ctx.DeleteProcessingTimer(ms)
	}
	return weir.Errorf(CodeBadCommand, "timers: unknown command %q", r.Value)
}

func onTimer(ctx *weir.Context, t weir.Timer) error {
	var v string
	if t.Kind == weir.EventTime {
		v = fmt.Sprintf("fired event %d at watermark %d", t.Time, ctx.Watermark())
	} else {
		v = fmt.Sprintf("fired processing %d at time %d", t.Time, ctx.ProcessingTime())
	}
	ctx.Emit(weir.Record{Key: t.Key, Value: []byte(v)})
	return nil
}

// Command poison is the window-count operator of examples/windowcount with
// poison records: it traps (panics) on every record whose value starts with a
// 20-digit index i (as the datagen source writes them) with i % 997 == 13.
// The DLQ tests know from this exactly which records must be dead-lettered.
// With the config "echo" it emits every other record as it is instead of
// counting windows (so that a resubmitted record's output is one line). With
// the config "reject" it fails on every record, with an error status (not a
// trap), "rejected record <i> (class-<i % 100>)": a cheap way to fill a DLQ.
package main

import (
	"errors"
	"strconv"

	"github.com/weirstream/weir/examples/windowcount/window"
	weir "github.com/weirstream/weir/sdk/go"
)

// Poisoned reports whether the record with datagen value v is a poison one.
func poisoned(v []byte) bool {
	if len(v) < 20 {
		return false
	}
	i, err := strconv.ParseUint(string(v[:20]), 10, 64)
	return err == nil && i%997 == 13
}

var echo, reject bool

func init() {
	weir.Serve(weir.Operator{
		Init: func(config []byte) error {
			echo = string(config) == `"echo"`
			reject = string(config) == `"reject"`
			return nil
		},
		Process: func(ctx *weir.Context, r weir.Record) error {
			if reject {
				i, err := strconv.ParseUint(string(r.Value[:min(20, len(r.Value))]), 10, 64)
				if err != nil {
					return errors.New("rejected record without an index")
				}
				return errors.New("rejected record " + string(r.Value[:20]) + " (class-" + strconv.FormatUint(i%100, 10) + ")")
			}
			if poisoned(r.Value) {
				panic("poison record " + string(r.Value[:20]))
			}
			if echo {
				ctx.Emit(weir.Record{Key: r.Key, Value: r.Value})
				return nil
			}
			return window.Operator.Process(ctx, r)
		},
		OnTimer: window.Operator.OnTimer,
	})
}

func main() {}

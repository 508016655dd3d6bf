// Package count is the second operator of the word-count example: a keyed count
// of records per key.
//
// By default it emits each key's final count when the input ends (the
// watermark reaches the end of time, which happens when every bounded source is
// exhausted): an event-time timer at the largest timestamp is set the first
// time a key is seen. With the configuration {"mode": "running"} it emits the
// updated count with every record instead, which suits unbounded input.
package count

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	weir "github.com/weirstream/weir/sdk/go"
)

// Operator counts records per key.
var Operator = weir.Operator{Init: initConfig, Process: process, OnTimer: onTimer}

var counts = weir.NewValueState("count", weir.Int64)

// endOfTime is the time of the end-of-input timer: the watermark reaches it
// only when every source has ended.
const endOfTime = math.MaxInt64

// running is set by Init from the configuration. NB: a package variable is
// right here: it is configuration, the same for every instance of the module.
var running bool

func initConfig(config []byte) error {
	running = false
	if len(config) == 0 {
		return nil
	}
	var c struct {
		Mode string `json:"mode"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return fmt.Errorf("count: config: %w", err)
	}
	switch c.Mode {
	case "", "final":
	case "running":
		running = true
	default:
		return fmt.Errorf("count: config: mode %q: want \"final\" or \"running\"", c.Mode)
	}
	return nil
}

func process(ctx *weir.Context, r weir.Record) error {
	n, seen, err := counts.Get(ctx)
	if err != nil {
		return err
	}
	n++
	if err := counts.Set(ctx, n); err != nil {
		return err
	}
	if running {
		var buf [20]byte // Emit copies: no allocation per record
		ctx.Emit(weir.Record{Key: r.Key, Value: strconv.AppendInt(buf[:0], n, 10)})
		return nil
	}
	if !seen {
		return ctx.SetEventTimer(endOfTime)
	}
	return nil
}

func onTimer(ctx *weir.Context, t weir.Timer) error {
	n, _, err := counts.Get(ctx)
	if err != nil {
		return err
	}
	var buf [20]byte
	ctx.Emit(weir.Record{Key: t.Key, Value: strconv.AppendInt(buf[:0], n, 10)})
	return nil
}

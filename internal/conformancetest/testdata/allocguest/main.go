// Command allocguest is a Wasm test guest of the Go SDK for conformancetest:
// it runs the SDK's per-record paths (value and map state, Emit, EmitTo with
// headers, timers) for every record, and reports the guest's heap allocations
// so far (runtime.MemStats.Mallocs), in decimal on port 1, for a record whose
// value is "mallocs".
package main

import (
	"runtime"
	"strconv"

	weir "github.com/weirstream/weir/sdk/go"
)

var (
	count = weir.NewValueState("count", weir.Int64)
	sums  = weir.NewMapState("sums", weir.Uint64, weir.Int64)
	total = weir.NewReducingState("total", weir.Float64, func(a, b float64) float64 { return a + b })
)

func process(ctx *weir.Context, r weir.Record) error {
	if string(r.Value) == "mallocs" {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		var buf [20]byte
		ctx.EmitTo(1, weir.Record{Value: strconv.AppendUint(buf[:0], ms.Mallocs, 10)})
		return nil
	}
	n, _, err := count.Get(ctx)
	if err != nil {
		return err
	}
	n++
	if err := count.Set(ctx, n); err != nil {
		return err
	}
	s, _, err := sums.Get(ctx, uint64(len(r.Value)))
	if err != nil {
		return err
	}
	if err := sums.Put(ctx, uint64(len(r.Value)), s+n); err != nil {
		return err
	}
	if err := total.Add(ctx, 0.5); err != nil {
		return err
	}
	var buf [20]byte
	ctx.Emit(weir.Record{Key: r.Key, Value: strconv.AppendInt(buf[:0], n, 10)})
	ctx.EmitTo(2, weir.Record{Key: r.Key, Value: r.Value, Headers: r.Headers})
	return ctx.SetEventTimer(ctx.Timestamp() + 1000)
}

func onTimer(*weir.Context, weir.Timer) error { return nil }

func init() { weir.Serve(weir.Operator{Process: process, OnTimer: onTimer}) }

func main() {}

// Command statecompat is a Wasm test guest of the Go SDK for conformancetest,
// the Go twin of the Rust SDK's guest sdk/rust/conformance/cases/statecompat.rs:
// both write the same state of every kind and codec, and render what they
// read the same way, so that the harness can check that each SDK reads what
// the other wrote and that both store the same bytes. The record's value is a
// command for its key: "write", "read" (emits the rendering) or "clear"; see
// the Rust guest for the values.
package main

import (
	"encoding/hex"
	"fmt"
	"math"
	"strings"

	weir "github.com/weirstream/weir/sdk/go"
)

var (
	vI64   = weir.NewValueState("v-i64", weir.Int64)
	vU64   = weir.NewValueState("v-u64", weir.Uint64)
	vF64   = weir.NewValueState("v-f64", weir.Float64)
	vBool  = weir.NewValueState("v-bool", weir.Bool)
	vStr   = weir.NewValueState("v-str", weir.String)
	vBytes = weir.NewValueState("v-bytes", weir.Bytes)
	m      = weir.NewMapState("m", weir.Int64, weir.String)
	mf     = weir.NewMapState("mf", weir.Float64, weir.Uint64)
	l      = weir.NewListState("l", weir.Float64)
	r      = weir.NewReducingState("r", weir.Int64, func(a, b int64) int64 { return a + b })
	a      = weir.NewAggregatingState("a", weir.Float64, weir.AggregateFunc[int64, float64, float64]{
		Add:    func(acc float64, v int64) float64 { return acc + float64(v) },
		Result: func(acc float64) float64 { return acc },
	})
)

func bits(f float64) string { return fmt.Sprintf("%016x", math.Float64bits(f)) }

// render appends "name=value" (or "name=none") to parts.
func render[T any](parts []string, name string, v T, ok bool, err error, f func(T) string) ([]string, error) {
	if err != nil {
		return parts, err
	}
	if !ok {
		return append(parts, name+"=none"), nil
	}
	return append(parts, name+"="+f(v)), nil
}

func write(ctx *weir.Context) error {
	for _, err := range []error{
		vI64.Set(ctx, -5), vU64.Set(ctx, 7), vF64.Set(ctx, -1.5), vBool.Set(ctx, true),
		vStr.Set(ctx, "héllo"), vBytes.Set(ctx, []byte{0, 255}),
		m.Put(ctx, -2, "minus two"), m.Put(ctx, 3, "three"), m.Put(ctx, 1<<40, "big"),
		mf.Put(ctx, 2.25, 2), mf.Put(ctx, -0.5, 1),
		l.Add(ctx, 0.5), l.Add(ctx, -0.25), l.Add(ctx, 1e300),
		r.Add(ctx, 4), r.Add(ctx, 5), a.Add(ctx, 3), a.Add(ctx, 4),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func read(ctx *weir.Context, key []byte) error {
	var parts []string
	var err error
	i, ok, e := vI64.Get(ctx)
	parts, err = render(parts, "v-i64", i, ok, e, func(v int64) string { return fmt.Sprint(v) })
	if err != nil {
		return err
	}
	u, ok, e := vU64.Get(ctx)
	if parts, err = render(parts, "v-u64", u, ok, e, func(v uint64) string { return fmt.Sprint(v) }); err != nil {
		return err
	}
	f, ok, e := vF64.Get(ctx)
	if parts, err = render(parts, "v-f64", f, ok, e, bits); err != nil {
		return err
	}
	b, ok, e := vBool.Get(ctx)
	if parts, err = render(parts, "v-bool", b, ok, e, func(v bool) string { return fmt.Sprint(v) }); err != nil {
		return err
	}
	s, ok, e := vStr.Get(ctx)
	if parts, err = render(parts, "v-str", s, ok, e, func(v string) string { return v }); err != nil {
		return err
	}
	bs, ok, e := vBytes.Get(ctx)
	if parts, err = render(parts, "v-bytes", bs, ok, e, hex.EncodeToString); err != nil {
		return err
	}
	var ms, mfs, ls []string
	if err := m.Range(ctx, func(k int64, v string) bool { ms = append(ms, fmt.Sprintf("%d:%s", k, v)); return true }); err != nil {
		return err
	}
	if err := mf.Range(ctx, func(k float64, v uint64) bool { mfs = append(mfs, fmt.Sprintf("%s:%d", bits(k), v)); return true }); err != nil {
		return err
	}
	if err := l.Range(ctx, func(_ int, v float64) bool { ls = append(ls, bits(v)); return true }); err != nil {
		return err
	}
	n, err := l.Len(ctx)
	if err != nil {
		return err
	}
	parts = append(parts, "m=["+strings.Join(ms, ",")+"]", "mf=["+strings.Join(mfs, ",")+"]",
		"l=["+strings.Join(ls, ",")+"]", fmt.Sprintf("l-len=%d", n))
	rv, ok, e := r.Get(ctx)
	if parts, err = render(parts, "r", rv, ok, e, func(v int64) string { return fmt.Sprint(v) }); err != nil {
		return err
	}
	av, ok, e := a.Get(ctx)
	if parts, err = render(parts, "a", av, ok, e, bits); err != nil {
		return err
	}
	ctx.Emit(weir.Record{Key: key, Value: []byte(strings.Join(parts, " "))})
	return nil
}

func clearAll(ctx *weir.Context) error {
	for _, err := range []error{
		vI64.Clear(ctx), vU64.Clear(ctx), vF64.Clear(ctx), vBool.Clear(ctx), vStr.Clear(ctx),
		vBytes.Clear(ctx), m.Clear(ctx), mf.Clear(ctx), l.Clear(ctx), r.Clear(ctx), a.Clear(ctx),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func process(ctx *weir.Context, rec weir.Record) error {
	switch string(rec.Value) {
	case "write":
		return write(ctx)
	case "read":
		return read(ctx, rec.Key)
	case "clear":
		return clearAll(ctx)
	}
	return weir.Errorf(100, "statecompat: unknown command %q", rec.Value)
}

func init() { weir.Serve(weir.Operator{Process: process}) }

func main() {}

// Package tally is the operator of the rollouts example (docs/rollouts.md): a
// keyed tally that emits "n=<records of the key so far>" per record. Version
// 2 adds " v2" to what it emits, so that a shadow reports every record as a
// mismatch and the committed output shows which keys a canary ran.
package tally

import (
	"strconv"

	weir "github.com/weirstream/weir/sdk/go"
)

var count = weir.NewValueState("n", weir.Int64)

// Operator returns the tally of the given version (1 or 2). Both keep the same
// state, so a swap, a canary and a rollback carry each key's tally on.
func Operator(version int) weir.Operator {
	return weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
		n, _, err := count.Get(ctx)
		if err != nil {
			return err
		}
		n++
		if err := count.Set(ctx, n); err != nil {
			return err
		}
		out := strconv.AppendInt(append(make([]byte, 0, 32), "n="...), n, 10)
		if version == 2 {
			out = append(out, " v2"...)
		}
		ctx.Emit(weir.Record{Key: r.Key, Value: out})
		return nil
	}}
}

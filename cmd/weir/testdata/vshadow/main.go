// Command vshadow is the keyed counter of the shadow tests: for each record
// it counts the records of its key and emits "<count>:<value>". Its variant
// is the digit at the end of marker, which the tests patch to make distinct
// modules from one build; a variant other than 0 differs from variant 0 on
// exactly the records whose datagen index i (the value's first 20 digits) has
// i % 7 == 3 — the tests know from this which records must differ:
//
//	0  the base
//	1  emits "<count>:<VALUE>", the value upper-cased
//	2  traps (panics)
//	3  loops until the host stops the call
//	4  emits "<count>:<value>" twice
//
// Every variant keeps the same state, so a shadow whose state were not the
// live one's would differ on every record, not only on those.
package main

import (
	"bytes"
	"strconv"

	weir "github.com/weirstream/weir/sdk/go"
)

// marker ends in the variant, one decimal digit.
var marker = "weir-vshadow-variant:0"

var counts = weir.NewValueState("count", weir.Int64)

// special reports whether the record with datagen value v is one a variant
// treats differently.
func special(v []byte) bool {
	if len(v) < 20 {
		return false
	}
	i, err := strconv.ParseUint(string(v[:20]), 10, 64)
	return err == nil && i%7 == 3
}

var spin uint64

func init() {
	variant := marker[len(marker)-1] - '0'
	weir.Serve(weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
		n, _, err := counts.Get(ctx)
		if err != nil {
			return err
		}
		n++
		if err := counts.Set(ctx, n); err != nil {
			return err
		}
		value := r.Value
		times := 1
		if variant != 0 && special(r.Value) {
			switch variant {
			case 1:
				value = bytes.ToUpper(value)
			case 2:
				panic("vshadow variant 2 traps on record " + string(r.Value[:20]))
			case 3:
				for {
					spin++
				}
			case 4:
				times = 2
			}
		}
		out := strconv.AppendInt(make([]byte, 0, 64), n, 10)
		out = append(out, ':')
		out = append(out, value...)
		for range times {
			ctx.Emit(weir.Record{Key: r.Key, Value: out})
		}
		return nil
	}})
}

func main() {}

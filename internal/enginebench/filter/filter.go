// Package filter is the stateless operator of the engine benchmarks: it keeps
// the records whose key ends in an even digit and upper-cases the first byte of
// their value (a map and a filter in one).
package filter

import weir "github.com/weirstream/weir/sdk/go"

// Operator maps and filters records.
var Operator = weir.Operator{Process: process}

func process(ctx *weir.Context, r weir.Record) error {
	k := r.Key
	if len(k) == 0 || (k[len(k)-1]-'0')%2 != 0 {
		return nil
	}
	var buf [128]byte
	v := append(buf[:0], r.Value...)
	if len(v) > 0 && v[0] >= 'a' && v[0] <= 'z' {
		v[0] -= 'a' - 'A'
	}
	ctx.Emit(weir.Record{Key: r.Key, Value: v})
	return nil
}

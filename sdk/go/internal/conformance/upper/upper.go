// Package upper is the stateless reference operator of the behaviour vectors:
// it emits each record with its value in ASCII upper case (bytes a-z become
// A-Z, every other byte is kept), with the same key and headers, and the
// timestamp and tracking id inherited from the input record.
package upper

import weir "github.com/weirstream/weir/sdk/go"

// Operator is the upper operator.
var Operator = weir.Operator{Process: process}

func process(ctx *weir.Context, r weir.Record) error {
	v := make([]byte, len(r.Value))
	for i, c := range r.Value {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		v[i] = c
	}
	ctx.Emit(weir.Record{Key: r.Key, Value: v, Headers: r.Headers})
	return nil
}

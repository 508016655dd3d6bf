// Package upper is the stateless reference operator of the behaviour vectors:
// it emits each record with its value in ASCII upper case (bytes a-z become
// A-Z, every other byte is kept), with the same key and headers, and the
// timestamp and tracking id inherited from the input record.
package upper

import weir "github.com/weirstream/weir/sdk/go"

// Operator is the upper operator.
var Operator = weir.Operator{Process: process}

// stackValueBytes is the largest value upper converts in a buffer on the
// stack; Emit copies it, so that there is no allocation per record.
const stackValueBytes = 256

func process(ctx *weir.Context, r weir.Record) error {
	var buf [stackValueBytes]byte
	v := buf[:0]
	if len(r.Value) > len(buf) {
		v = make([]byte, 0, len(r.Value))
	}
	v = v[:len(r.Value)]
	for i, c := range r.Value {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		v[i] = c
	}
	ctx.Emit(weir.Record{Key: r.Key, Value: v, Headers: r.Headers})
	return nil
}

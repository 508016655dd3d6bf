package text

import (
	"github.com/weirstream/weir/examples/nexmark/results"
	weir "github.com/weirstream/weir/sdk/go"
)

// Operator replaces each record's value with its canonical line (no newline);
// a value that is not a result fails the batch.
var Operator = weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
	var buf [512]byte
	line, err := results.AppendText(buf[:0], r.Value)
	if err != nil {
		return err
	}
	ctx.Emit(weir.Record{Key: r.Key, Value: line})
	return nil
}}

// Command emit is an SDK operator that emits every record as it is: noop plus
// one Emit per record and one emit host call per batch.
package main

import weir "github.com/weirstream/weir/sdk/go"

func process(ctx *weir.Context, r weir.Record) error {
	ctx.Emit(weir.Record{Key: r.Key, Value: r.Value})
	return nil
}

func init() { weir.Serve(weir.Operator{Process: process}) }

func main() {}

// Command getset reads and writes a ValueState[int64] per record and emits
// nothing: the SDK's and the host's cost of keyed state.
package main

import weir "github.com/weirstream/weir/sdk/go"

var count = weir.NewValueState("count", weir.Int64)

func process(ctx *weir.Context, r weir.Record) error {
	n, _, err := count.Get(ctx)
	if err != nil {
		return err
	}
	return count.Set(ctx, n+1)
}

func init() { weir.Serve(weir.Operator{Process: process}) }

func main() {}

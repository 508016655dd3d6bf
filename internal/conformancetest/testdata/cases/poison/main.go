// Command poison is the Go build of the suite's trap case: it emits every
// record unchanged, and panics on a record whose key is "poison".
package main

import weir "github.com/weirstream/weir/sdk/go"

func process(ctx *weir.Context, r weir.Record) error {
	if string(r.Key) == "poison" {
		panic("poisoned record: the guest panics on purpose")
	}
	ctx.Emit(r)
	return nil
}

func init() { weir.Serve(weir.Operator{Process: process}) }

func main() {}

// Command timerset sets an event-time timer per record and does nothing else:
// the cost of a host call whose host side does almost nothing.
package main

import weir "github.com/weirstream/weir/sdk/go"

func process(ctx *weir.Context, r weir.Record) error { return ctx.SetEventTimer(1 << 40) }

func init() { weir.Serve(weir.Operator{Process: process}) }

func main() {}

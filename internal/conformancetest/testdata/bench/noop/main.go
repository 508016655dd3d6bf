// Command noop is an SDK operator that does nothing: what remains is the SDK's
// fixed cost per entry (decoding, dispatch, the cursor) and the call per batch.
package main

import weir "github.com/weirstream/weir/sdk/go"

func process(*weir.Context, weir.Record) error { return nil }

func init() { weir.Serve(weir.Operator{Process: process}) }

func main() {}

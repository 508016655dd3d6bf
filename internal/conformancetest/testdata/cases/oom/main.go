// Command oom is the Go build of the suite's oversized-allocation case: it
// emits every record unchanged, and on a record whose key is "poison"
// allocates 1 GiB and fills it, which no memory limit of the suite allows.
package main

import weir "github.com/weirstream/weir/sdk/go"

// hugeBytes is more memory than the suite lets a guest have.
const hugeBytes = 1 << 30

// kept keeps the allocation reachable, so that it is not optimised away.
var kept []byte

func process(ctx *weir.Context, r weir.Record) error {
	if string(r.Key) == "poison" {
		kept = make([]byte, hugeBytes)
		for i := range kept {
			kept[i] = 1
		}
	}
	ctx.Emit(r)
	return nil
}

func init() { weir.Serve(weir.Operator{Process: process}) }

func main() {}

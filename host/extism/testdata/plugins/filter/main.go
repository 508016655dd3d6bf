// Command filter is a stateless Extism filter-and-map operator: it keeps the
// records whose key ends in an even digit and upper-cases the first byte of
// their value (package evenkeys, the same code as the Weir ABI guest
// abifilter). It writes nothing when it keeps nothing.
package main

import (
	"github.com/extism/go-pdk"

	"github.com/weirstream/weir/host/extism/testdata/plugins/evenkeys"
)

var out []byte

//go:wasmexport weir_process_batch
func process() int32 {
	var kept int
	out, kept = evenkeys.Apply(out, pdk.Input())
	if kept > 0 {
		pdk.Output(out)
	}
	return 0
}

func main() {}

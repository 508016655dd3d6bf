// Command wasm is the Wasm module of the sideoutput reference operator.
package main

import (
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/internal/conformance/sideoutput"
)

func init() { weir.Serve(sideoutput.Operator) }

func main() {}

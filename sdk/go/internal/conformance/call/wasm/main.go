// Command wasm is the Wasm module of the call reference operator.
package main

import (
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/internal/conformance/call"
)

func init() { weir.Serve(call.Operator) }

func main() {}

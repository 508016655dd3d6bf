// Command wasm is the Wasm module of the runningsum reference operator.
package main

import (
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/internal/conformance/runningsum"
)

func init() { weir.Serve(runningsum.Operator) }

func main() {}

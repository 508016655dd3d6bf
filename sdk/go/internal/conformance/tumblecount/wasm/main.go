// Command wasm is the Wasm module of the tumblecount reference operator.
package main

import (
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/internal/conformance/tumblecount"
)

func init() { weir.Serve(tumblecount.Operator) }

func main() {}

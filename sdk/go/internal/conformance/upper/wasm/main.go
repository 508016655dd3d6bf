// Command wasm is the Wasm module of the upper reference operator.
package main

import (
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/internal/conformance/upper"
)

func init() { weir.Serve(upper.Operator) }

func main() {}

// Command wasm is the Wasm module of the timers reference operator.
package main

import (
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/internal/conformance/timers"
)

func init() { weir.Serve(timers.Operator) }

func main() {}

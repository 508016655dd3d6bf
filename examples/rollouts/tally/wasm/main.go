// Command wasm builds version 1 of the tally operator into tally.wasm:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o tally.wasm .
package main

import (
	"github.com/weirstream/weir/examples/rollouts/tally"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(tally.Operator(1)) }

func main() {}

// Command wasm builds version 2 of the tally operator into tally2.wasm:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o tally2.wasm .
package main

import (
	"github.com/weirstream/weir/examples/rollouts/tally"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(tally.Operator(2)) }

func main() {}

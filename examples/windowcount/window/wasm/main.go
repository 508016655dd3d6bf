// Command wasm builds the window operator into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o window.wasm .
package main

import (
	"github.com/weirstream/weir/examples/windowcount/window"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(window.Operator) }

func main() {}

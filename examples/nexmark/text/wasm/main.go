// Command wasm builds the text operator (text.Operator) into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o text.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/text"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(text.Operator) }

func main() {}

// Command wasm builds the q7global operator (q7.Global) into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o q7global.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/q7"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(q7.Global) }

func main() {}

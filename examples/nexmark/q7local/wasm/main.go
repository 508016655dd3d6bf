// Command wasm builds the q7local operator (q7.Local) into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o q7local.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/q7"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(q7.Local) }

func main() {}

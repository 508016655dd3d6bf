// Command wasm builds the q0 operator into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o q0.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/q0"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(q0.Operator) }

func main() {}

// Command wasm builds the q1 operator into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o q1.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/q1"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(q1.Operator) }

func main() {}

// Command wasm builds the q2 operator into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o q2.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/q2"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(q2.Operator) }

func main() {}

// Command wasm builds the q11 operator (q11.Operator) into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o q11.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/q11"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(q11.Operator) }

func main() {}

// Command wasm builds the q3join operator (q3.Join) into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o q3join.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/q3"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(q3.Join) }

func main() {}

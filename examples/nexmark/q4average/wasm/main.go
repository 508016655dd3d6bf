// Command wasm builds the q4average operator (q4.Average) into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o q4average.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/q4"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(q4.Average) }

func main() {}

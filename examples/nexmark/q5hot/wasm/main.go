// Command wasm builds the q5hot operator (q5.Hot) into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o q5hot.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/q5"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(q5.Hot) }

func main() {}

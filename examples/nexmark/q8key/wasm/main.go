// Command wasm builds the q8key operator (q8.Key) into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o q8key.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/q8"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(q8.Key) }

func main() {}

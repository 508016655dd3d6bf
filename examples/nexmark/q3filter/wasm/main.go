// Command wasm builds the q3filter operator (q3.Filter) into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o q3filter.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/q3"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(q3.Filter) }

func main() {}

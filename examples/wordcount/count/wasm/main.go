// Command wasm builds the count operator into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o count.wasm .
package main

import (
	"github.com/weirstream/weir/examples/wordcount/count"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(count.Operator) }

func main() {}

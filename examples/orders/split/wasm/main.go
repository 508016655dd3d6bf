// Command wasm builds the split operator into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o split.wasm .
package main

import (
	"github.com/weirstream/weir/examples/orders/split"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(split.Operator) }

func main() {}

// Command wasm builds the charge operator into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o charge.wasm .
package main

import (
	"github.com/weirstream/weir/examples/payments/charge"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(charge.Operator) }

func main() {}

// Command wasm builds the bidsbyauction operator (bids.ByAuction) into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bidsbyauction.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/bids"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(bids.ByAuction) }

func main() {}

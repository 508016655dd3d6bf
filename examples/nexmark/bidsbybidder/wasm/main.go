// Command wasm builds the bidsbybidder operator (bids.ByBidder) into a Wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bidsbybidder.wasm .
package main

import (
	"github.com/weirstream/weir/examples/nexmark/bids"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(bids.ByBidder) }

func main() {}

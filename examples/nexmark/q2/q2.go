package q2

import (
	"github.com/weirstream/weir/examples/nexmark/results"
	"github.com/weirstream/weir/plugins/nexmark/events"
	weir "github.com/weirstream/weir/sdk/go"
)

// AuctionSkip selects the bids of every AuctionSkip-th auction id.
const AuctionSkip = 123

// Operator emits a results.Q2, keyed by the auction id, for each selected bid.
var Operator = weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
	if k, ok := events.KindOf(r.Value); !ok || k != events.KindBid {
		return nil
	}
	b, err := events.DecodeBid(r.Value)
	if err != nil {
		return err
	}
	if b.Auction%AuctionSkip != 0 {
		return nil
	}
	var key [events.KeyBytes]byte
	var buf [32]byte
	key = events.Key(b.Auction)
	ctx.Emit(weir.Record{Key: key[:], Value: results.AppendQ2(buf[:0], results.Q2{Auction: b.Auction, Price: b.Price})})
	return nil
}}

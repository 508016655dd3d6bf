package bids

import (
	"github.com/weirstream/weir/plugins/nexmark/events"
	weir "github.com/weirstream/weir/sdk/go"
)

// ByAuction emits each bid keyed by its auction id.
var ByAuction = weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
	return rekey(ctx, r, false)
}}

// ByBidder emits each bid keyed by its bidder id.
var ByBidder = weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
	return rekey(ctx, r, true)
}}

func rekey(ctx *weir.Context, r weir.Record, byBidder bool) error {
	if k, ok := events.KindOf(r.Value); !ok || k != events.KindBid {
		return nil
	}
	b, err := events.DecodeBid(r.Value)
	if err != nil {
		return err
	}
	id := b.Auction
	if byBidder {
		id = b.Bidder
	}
	key := events.Key(id)
	ctx.Emit(weir.Record{Key: key[:], Value: r.Value})
	return nil
}

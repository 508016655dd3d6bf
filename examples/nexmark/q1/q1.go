package q1

import (
	"github.com/weirstream/weir/plugins/nexmark/events"
	weir "github.com/weirstream/weir/sdk/go"
)

// Operator emits each bid with its price in euros; it drops persons and
// auctions and fails the batch on a value that is not an event.
var Operator = weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
	if k, ok := events.KindOf(r.Value); !ok || k != events.KindBid {
		return nil
	}
	b, err := events.DecodeBid(r.Value)
	if err != nil {
		return err
	}
	var buf [256]byte // Emit copies: a bid of the default size is built on the stack
	v := append(buf[:0], r.Value...)
	events.SetBidPrice(v, DollarsToEuros(b.Price))
	ctx.Emit(weir.Record{Key: r.Key, Value: v})
	return nil
}}

// DollarsToEuros converts a price in cents at Nexmark's rate of 0.908,
// truncating.
func DollarsToEuros(cents int64) int64 { return cents * 908 / 1000 }

package q0

import (
	"github.com/weirstream/weir/plugins/nexmark/events"
	weir "github.com/weirstream/weir/sdk/go"
)

// Operator emits each bid record as it is (key, value and timestamp) and
// drops persons and auctions.
var Operator = weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
	if k, ok := events.KindOf(r.Value); ok && k == events.KindBid {
		ctx.Emit(weir.Record{Key: r.Key, Value: r.Value})
	}
	return nil
}}

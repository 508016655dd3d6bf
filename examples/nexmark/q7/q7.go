package q7

import (
	"github.com/weirstream/weir/examples/nexmark/internal/pair"
	"github.com/weirstream/weir/examples/nexmark/results"
	"github.com/weirstream/weir/plugins/nexmark/events"
	weir "github.com/weirstream/weir/sdk/go"
)

// WindowMillis is the window size in ms.
const WindowMillis = 10_000

var (
	// best is, per window start, the highest price and how many bids have it.
	best = weir.NewMapState("best", weir.Int64, pair.Codec)
	// tied holds, per (window start, i), the i-th bid with that price.
	tied = weir.NewMapState("tied", pair.Codec, weir.Bytes)
)

// Local emits each auction's highest bids per window, keyed by the window
// start and stamped with the window's last ms.
var Local = weir.Operator{Process: add, OnTimer: func(ctx *weir.Context, t weir.Timer) error {
	return fire(ctx, t, false)
}}

// Global emits each window's highest bids as results.Q7; its input is Local's
// output on a keyBy edge.
var Global = weir.Operator{Process: add, OnTimer: func(ctx *weir.Context, t weir.Timer) error {
	return fire(ctx, t, true)
}}

// add adds the bid r to its window: it replaces the window's bids when its
// price is higher, joins them when equal, and is dropped when lower.
func add(ctx *weir.Context, r weir.Record) error {
	b, err := events.DecodeBid(r.Value)
	if err != nil {
		return err
	}
	w := pair.WindowStart(r.Timestamp, WindowMillis)
	cur, found, err := best.Get(ctx, w)
	switch {
	case err != nil:
		return err
	case found && b.Price < cur[0]:
		return nil
	case found && b.Price == cur[0]:
		if err := tied.Put(ctx, [2]int64{w, cur[1]}, r.Value); err != nil {
			return err
		}
		return best.Put(ctx, w, [2]int64{cur[0], cur[1] + 1})
	}
	if found {
		// A new best: the bids that tied at the old one go.
		for i := int64(1); i < cur[1]; i++ {
			if err := tied.Delete(ctx, [2]int64{w, i}); err != nil {
				return err
			}
		}
	} else if err := ctx.SetEventTimer(w + WindowMillis - 1); err != nil {
		return err
	}
	if err := tied.Put(ctx, [2]int64{w, 0}, r.Value); err != nil {
		return err
	}
	return best.Put(ctx, w, [2]int64{b.Price, 1})
}

// fire emits the highest bids of the window that ends at t and forgets it.
func fire(ctx *weir.Context, t weir.Timer, final bool) error {
	w := t.Time + 1 - WindowMillis
	cur, found, err := best.Get(ctx, w)
	if err != nil || !found {
		return err
	}
	key := events.Key(w)
	for i := int64(0); i < cur[1]; i++ {
		v, ok, err := tied.Get(ctx, [2]int64{w, i})
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if final {
			b, err := events.DecodeBid(v)
			if err != nil {
				return err
			}
			var buf [256]byte
			v = results.AppendQ7(buf[:0], results.Q7{WindowStart: w, Bid: b})
		}
		ctx.Emit(weir.Record{Key: key[:], Value: v})
		if err := tied.Delete(ctx, [2]int64{w, i}); err != nil {
			return err
		}
	}
	return best.Delete(ctx, w)
}

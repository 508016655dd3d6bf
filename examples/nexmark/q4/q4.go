package q4

import (
	"encoding/binary"
	"fmt"

	"github.com/weirstream/weir/examples/nexmark/internal/pair"
	"github.com/weirstream/weir/examples/nexmark/results"
	"github.com/weirstream/weir/plugins/nexmark/events"
	weir "github.com/weirstream/weir/sdk/go"
)

// Kinds of the records between the operators: the first byte of their value,
// followed by i64 little-endian fields.
const (
	// kindAuction: dateTime, expires, category (Key to Winning).
	kindAuction = 0x41
	// kindBid: price, dateTime (Key to Winning).
	kindBid = 0x42
	// kindWinner: auction id, price (Winning to Average; timestamp = expires).
	kindWinner = 0x43
)

var le = binary.LittleEndian

// Key emits each auction keyed by its id and each bid keyed by its auction,
// with only the fields Winning needs; it drops persons.
var Key = weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
	k, _ := events.KindOf(r.Value)
	var key [events.KeyBytes]byte
	var buf [32]byte
	switch k {
	case events.KindAuction:
		a, err := events.DecodeAuction(r.Value)
		if err != nil {
			return err
		}
		key = events.Key(a.ID)
		v := append(buf[:0], kindAuction)
		v = le.AppendUint64(v, uint64(a.DateTime))
		v = le.AppendUint64(v, uint64(a.Expires))
		v = le.AppendUint64(v, uint64(a.Category))
		ctx.Emit(weir.Record{Key: key[:], Value: v})
	case events.KindBid:
		b, err := events.DecodeBid(r.Value)
		if err != nil {
			return err
		}
		key = events.Key(b.Auction)
		v := le.AppendUint64(append(buf[:0], kindBid), uint64(b.Price))
		v = le.AppendUint64(v, uint64(b.DateTime))
		ctx.Emit(weir.Record{Key: key[:], Value: v})
	}
	return nil
}}

// auctionState is what Winning keeps about an auction that arrived: its
// interval, its category, the best qualifying price so far (0: none; prices
// are at least 100), and whether it has closed.
type auctionState struct {
	DateTime, Expires, Category, Best int64
	Closed                            bool
}

// closedUntil is when Winning forgets a closed auction: until then it knows
// to ignore the auction's late bids at the cost of one state read; after, such
// a bid waits in early until the watermark passes it, which gives the same
// result at a higher cost. Bids for an auction come within about its length
// after it opens (docs/nexmark.md §4), so twice its length and 10 s more
// covers nearly all of them.
func (a *auctionState) closedUntil() int64 { return a.Expires + 2*(a.Expires-a.DateTime) + 10_000 }

// auctionCodec encodes an auctionState in 33 bytes, without allocating.
type auctionCodec struct{}

func (*auctionCodec) Append(dst []byte, s auctionState) ([]byte, error) {
	dst = le.AppendUint64(dst, uint64(s.DateTime))
	dst = le.AppendUint64(dst, uint64(s.Expires))
	dst = le.AppendUint64(dst, uint64(s.Category))
	dst = le.AppendUint64(dst, uint64(s.Best))
	if s.Closed {
		return append(dst, 1), nil
	}
	return append(dst, 0), nil
}

func (*auctionCodec) Decode(b []byte) (auctionState, error) {
	if len(b) != 33 {
		return auctionState{}, fmt.Errorf("q4 auction state of %d bytes, want 33", len(b))
	}
	return auctionState{int64(le.Uint64(b)), int64(le.Uint64(b[8:])), int64(le.Uint64(b[16:])), int64(le.Uint64(b[24:])), b[32] == 1}, nil
}

var (
	auction = weir.NewValueState[auctionState]("auction", &auctionCodec{})
	// earlyMeta is, while bids wait for their auction, how many wait and the
	// time at which they all become useless (the last ms of the second of the
	// latest of them).
	earlyMeta = weir.NewValueState("earlyMeta", pair.Codec)
	// earlyBid holds the waiting bids, (dateTime, price), under their arrival
	// index 0, 1, ...
	//
	// NB: indexed entries rather than one value holding them all: under skew
	// between the source's splits, thousands of bids of a hot auction can
	// arrive before it, and rewriting a growing value per bid costs time and
	// guest memory. Indexes rather than dateTimes as map keys: the entries are
	// then read and deleted one by one, since a map scan or clear costs the
	// state backend a write-back of its cache.
	earlyBid = weir.NewMapState("earlyBid", weir.Int64, pair.Codec)
)

// earlyCleanup is when a bid at ts waiting for its auction becomes useless,
// rounded up to the last ms of its second so that the bids of one second
// share one timer.
func earlyCleanup(ts int64) int64 { return pair.WindowStart(ts, 1000) + 999 }

// Winning keeps each auction (its key) and its best bid, and emits the
// auction's winning price, keyed by category and stamped with the expiry, when
// the watermark passes the expiry. Bids that arrive before their auction wait
// in earlyBid; once the watermark passes a waiting bid's dateTime without the
// auction, no auction can take it (an auction's dateTime is at most its
// bids'), and a timer drops the waiting bids.
var Winning = weir.Operator{
	Process: func(ctx *weir.Context, r weir.Record) error {
		if len(r.Value) != 25 && len(r.Value) != 17 {
			return fmt.Errorf("q4 winning: record of %d bytes, want an auction (25) or a bid (17)", len(r.Value))
		}
		switch r.Value[0] {
		case kindAuction:
			a := auctionState{DateTime: int64(le.Uint64(r.Value[1:])), Expires: int64(le.Uint64(r.Value[9:])), Category: int64(le.Uint64(r.Value[17:]))}
			err := takeEarly(ctx, func(ts, price int64) {
				if ts >= a.DateTime && ts <= a.Expires {
					a.Best = max(a.Best, price)
				}
			})
			if err != nil {
				return err
			}
			if err := auction.Set(ctx, a); err != nil {
				return err
			}
			return ctx.SetEventTimer(a.Expires)
		case kindBid:
			price, ts := int64(le.Uint64(r.Value[1:])), int64(le.Uint64(r.Value[9:]))
			a, ok, err := auction.Get(ctx)
			if err != nil {
				return err
			}
			if ok {
				if !a.Closed && ts >= a.DateTime && ts <= a.Expires && price > a.Best {
					a.Best = price
					return auction.Set(ctx, a)
				}
				return nil
			}
			m, found, err := earlyMeta.Get(ctx)
			if err != nil {
				return err
			}
			if err := earlyBid.Put(ctx, m[0], [2]int64{ts, price}); err != nil {
				return err
			}
			if at := earlyCleanup(ts); !found || at > m[1] {
				if err := ctx.SetEventTimer(at); err != nil {
					return err
				}
				m[1] = at
			}
			m[0]++
			return earlyMeta.Set(ctx, m)
		}
		return fmt.Errorf("q4 winning: unknown record kind 0x%02x", r.Value[0])
	},
	OnTimer: func(ctx *weir.Context, t weir.Timer) error {
		a, ok, err := auction.Get(ctx)
		if err != nil {
			return err
		}
		switch {
		case ok && !a.Closed && t.Time == a.Expires:
			if a.Best > 0 {
				id, _ := events.ParseKey(ctx.Key())
				key := events.Key(a.Category)
				var buf [17]byte
				v := le.AppendUint64(le.AppendUint64(append(buf[:0], kindWinner), uint64(id)), uint64(a.Best))
				ctx.Emit(weir.Record{Key: key[:], Value: v})
			}
			a.Closed = true
			if err := auction.Set(ctx, a); err != nil {
				return err
			}
			return ctx.SetEventTimer(a.closedUntil())
		case ok && a.Closed && t.Time >= a.closedUntil():
			return auction.Clear(ctx)
		case ok:
			return nil // a timer of bids that waited for this auction
		}
		// The auction has not come: once the watermark passes every waiting
		// bid, none of them can be its.
		m, found, err := earlyMeta.Get(ctx)
		if err != nil || !found || t.Time < m[1] {
			return err
		}
		return takeEarly(ctx, func(int64, int64) {})
	},
}

// takeEarly calls fn for each bid waiting for the key's auction and forgets
// them.
func takeEarly(ctx *weir.Context, fn func(ts, price int64)) error {
	m, found, err := earlyMeta.Get(ctx)
	if err != nil || !found {
		return err
	}
	for i := range m[0] {
		b, ok, err := earlyBid.Get(ctx, i)
		if err != nil {
			return err
		}
		if ok {
			fn(b[0], b[1])
		}
		if err := earlyBid.Delete(ctx, i); err != nil {
			return err
		}
	}
	return earlyMeta.Clear(ctx)
}

var (
	// totals is the category's (count, sum) of winning prices so far.
	totals = weir.NewValueState("totals", pair.Codec)
	// closing holds the (count, sum) of the winning prices that close at each
	// time the watermark has not passed yet.
	closing = weir.NewMapState("closing", weir.Int64, pair.Codec)
)

// Average folds the winning prices of its key (a category) into running
// sums, and emits a results.Q4 for each close time once the watermark passes
// it, after every auction that closes then.
var Average = weir.Operator{
	Process: func(ctx *weir.Context, r weir.Record) error {
		if len(r.Value) != 17 || r.Value[0] != kindWinner {
			return fmt.Errorf("q4 average: record of %d bytes is not a winning price", len(r.Value))
		}
		price := int64(le.Uint64(r.Value[9:]))
		c, found, err := closing.Get(ctx, r.Timestamp)
		if err != nil {
			return err
		}
		if err := closing.Put(ctx, r.Timestamp, [2]int64{c[0] + 1, c[1] + price}); err != nil {
			return err
		}
		if !found {
			return ctx.SetEventTimer(r.Timestamp)
		}
		return nil
	},
	OnTimer: func(ctx *weir.Context, t weir.Timer) error {
		c, found, err := closing.Get(ctx, t.Time)
		if err != nil || !found {
			return err
		}
		tot, _, err := totals.Get(ctx)
		if err != nil {
			return err
		}
		tot = [2]int64{tot[0] + c[0], tot[1] + c[1]}
		if err := totals.Set(ctx, tot); err != nil {
			return err
		}
		if err := closing.Delete(ctx, t.Time); err != nil {
			return err
		}
		category, _ := events.ParseKey(ctx.Key())
		var buf [48]byte
		ctx.Emit(weir.Record{Key: ctx.Key(), Value: results.AppendQ4(buf[:0], results.Q4{
			Category: category, Expires: t.Time, Count: tot[0], Sum: tot[1], Average: tot[1] / tot[0],
		})})
		return nil
	},
}

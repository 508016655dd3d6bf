package q8

import (
	"encoding/binary"
	"fmt"

	"github.com/weirstream/weir/examples/nexmark/internal/pair"
	"github.com/weirstream/weir/examples/nexmark/results"
	"github.com/weirstream/weir/plugins/nexmark/events"
	weir "github.com/weirstream/weir/sdk/go"
)

// WindowMillis is the window size in ms.
const WindowMillis = 10_000

// Kinds of the records Key emits: the first byte of their value.
const (
	// kindPerson: the person's name (string); the record's timestamp is
	// the person's dateTime.
	kindPerson = 0x81
	// kindAuction: nothing more; the record's timestamp is the auction's
	// dateTime.
	kindAuction = 0x82
)

var le = binary.LittleEndian

// Key emits persons keyed by id and auctions keyed by seller, in the compact
// forms Join reads; it drops bids.
var Key = weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
	k, _ := events.KindOf(r.Value)
	var key [events.KeyBytes]byte
	switch k {
	case events.KindPerson:
		p, err := events.DecodePerson(r.Value)
		if err != nil {
			return err
		}
		var buf [64]byte
		key = events.Key(p.ID)
		ctx.Emit(weir.Record{Key: key[:], Value: events.AppendString(append(buf[:0], kindPerson), p.Name)})
	case events.KindAuction:
		a, err := events.DecodeAuction(r.Value)
		if err != nil {
			return err
		}
		key = events.Key(a.Seller)
		ctx.Emit(weir.Record{Key: key[:], Value: []byte{kindAuction}})
	}
	return nil
}}

var (
	// person is the person of the key: its window start (8 bytes
	// little-endian), then its name.
	person = weir.NewValueState("person", weir.Bytes)
	// sold holds the window starts in which the person sold (the values are
	// unused).
	sold = weir.NewMapState("sold", weir.Int64, weir.Bool)
)

// Join emits a results.Q8 for its key (a person id) when the watermark passes
// the end of the person's window and the person sold in it.
var Join = weir.Operator{
	Process: func(ctx *weir.Context, r weir.Record) error {
		if len(r.Value) == 0 {
			return fmt.Errorf("q8 join: empty value")
		}
		w := pair.WindowStart(r.Timestamp, WindowMillis)
		switch r.Value[0] {
		case kindPerson:
			name, _, ok := events.String(r.Value[1:])
			if !ok {
				return fmt.Errorf("q8 join: malformed person record of %d bytes", len(r.Value))
			}
			var buf [64]byte
			if err := person.Set(ctx, append(le.AppendUint64(buf[:0], uint64(w)), name...)); err != nil {
				return err
			}
		case kindAuction:
			if err := sold.Put(ctx, w, true); err != nil {
				return err
			}
		default:
			return fmt.Errorf("q8 join: unknown record kind 0x%02x", r.Value[0])
		}
		return ctx.SetEventTimer(w + WindowMillis - 1)
	},
	OnTimer: func(ctx *weir.Context, t weir.Timer) error {
		w := t.Time + 1 - WindowMillis
		_, didSell, err := sold.Get(ctx, w)
		if err != nil {
			return err
		}
		if didSell {
			if err := sold.Delete(ctx, w); err != nil {
				return err
			}
		}
		p, ok, err := person.Get(ctx)
		if err != nil || !ok || len(p) < 8 || int64(le.Uint64(p)) != w {
			return err
		}
		if didSell {
			id, _ := events.ParseKey(ctx.Key())
			var buf [64]byte
			ctx.Emit(weir.Record{Key: ctx.Key(), Value: results.AppendQ8(buf[:0], results.Q8{ID: id, WindowStart: w, Name: p[8:]})})
		}
		return person.Clear(ctx)
	},
}

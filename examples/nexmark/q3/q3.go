package q3

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/weirstream/weir/examples/nexmark/results"
	"github.com/weirstream/weir/plugins/nexmark/events"
	weir "github.com/weirstream/weir/sdk/go"
)

// Category is the auction category q3 selects.
const Category = 10

// States are the person states q3 selects.
var States = [][]byte{[]byte("OR"), []byte("ID"), []byte("CA")}

// Kinds of the records Filter emits: the first byte of their value.
const (
	// kindPerson: a person's name, city and state (strings).
	kindPerson = 0x31
	// kindAuction: an auction id (i64).
	kindAuction = 0x32
)

// Filter emits the selected persons keyed by id and the selected auctions
// keyed by seller, in the compact forms Join reads; it drops everything else.
var Filter = weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
	k, _ := events.KindOf(r.Value)
	var key [events.KeyBytes]byte
	var buf [256]byte
	switch k {
	case events.KindPerson:
		p, err := events.DecodePerson(r.Value)
		if err != nil {
			return err
		}
		if !selected(p.State) {
			return nil
		}
		v := append(buf[:0], kindPerson)
		v = events.AppendString(v, p.Name)
		v = events.AppendString(v, p.City)
		v = events.AppendString(v, p.State)
		key = events.Key(p.ID)
		ctx.Emit(weir.Record{Key: key[:], Value: v})
	case events.KindAuction:
		a, err := events.DecodeAuction(r.Value)
		if err != nil {
			return err
		}
		if a.Category != Category {
			return nil
		}
		key = events.Key(a.Seller)
		v := le.AppendUint64(append(buf[:0], kindAuction), uint64(a.ID))
		ctx.Emit(weir.Record{Key: key[:], Value: v})
	}
	return nil
}}

func selected(state []byte) bool {
	for _, s := range States {
		if bytes.Equal(state, s) {
			return true
		}
	}
	return false
}

var (
	// person is the compact person of the key, once it arrived.
	person = weir.NewValueState("person", weir.Bytes)
	// waiting holds the ids of the key's auctions that arrived before the
	// person, 8 bytes little-endian each. NB: a value rather than a map state:
	// a map state would be read by a scan, which costs the state backend a
	// write-back of its cache.
	waiting = weir.NewValueState("waiting", weir.Bytes)
)

// Join emits a results.Q3 for each auction of the person of its key, as soon
// as both have arrived. Its input must be keyed by person id (Filter's
// output on a keyBy edge).
var Join = weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
	if len(r.Value) == 0 {
		return errors.New("q3 join: empty value")
	}
	switch r.Value[0] {
	case kindPerson:
		if err := person.Set(ctx, r.Value); err != nil {
			return err
		}
		ids, found, err := waiting.Get(ctx)
		if err != nil || !found {
			return err
		}
		for ; len(ids) >= 8; ids = ids[8:] {
			if err := emitMatch(ctx, int64(le.Uint64(ids)), r.Value); err != nil {
				return err
			}
		}
		return waiting.Clear(ctx)
	case kindAuction:
		if len(r.Value) != 9 {
			return fmt.Errorf("q3 join: auction record of %d bytes, want 9", len(r.Value))
		}
		id := int64(le.Uint64(r.Value[1:]))
		p, ok, err := person.Get(ctx)
		if err != nil {
			return err
		}
		if ok {
			return emitMatch(ctx, id, p)
		}
		ids, _, err := waiting.Get(ctx)
		if err != nil {
			return err
		}
		return waiting.Set(ctx, le.AppendUint64(ids, uint64(id)))
	}
	return fmt.Errorf("q3 join: unknown record kind 0x%02x", r.Value[0])
}}

// emitMatch emits the result of auction id and the compact person p.
func emitMatch(ctx *weir.Context, id int64, p []byte) error {
	name, rest, ok1 := events.String(p[1:])
	city, rest, ok2 := events.String(rest)
	state, _, ok3 := events.String(rest)
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("q3 join: malformed person record of %d bytes", len(p))
	}
	var buf [128]byte
	ctx.Emit(weir.Record{Key: ctx.Key(), Value: results.AppendQ3(buf[:0], results.Q3{AuctionID: id, Name: name, City: city, State: state})})
	return nil
}

var le = binary.LittleEndian

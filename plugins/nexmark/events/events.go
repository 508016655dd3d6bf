package events

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Kind is the first byte of an encoded event.
type Kind byte

// The event kinds (docs/nexmark.md §5).
const (
	KindPerson  Kind = 0x00
	KindAuction Kind = 0x01
	KindBid     Kind = 0x02
)

func (k Kind) String() string {
	switch k {
	case KindPerson:
		return "person"
	case KindAuction:
		return "auction"
	case KindBid:
		return "bid"
	}
	return fmt.Sprintf("Kind(0x%02x)", byte(k))
}

// MaxStringBytes is the longest string field an event can hold: its length is
// a u16.
const MaxStringBytes = math.MaxUint16

// Fixed sizes of the encodings: the kind byte and the integer fields.
const (
	personFixedBytes  = 1 + 2*8
	auctionFixedBytes = 1 + 7*8
	bidFixedBytes     = 1 + 4*8
)

// Person is a new user of the auction site.
type Person struct {
	ID           int64
	DateTime     int64 // ms since the Unix epoch
	Name         []byte
	EmailAddress []byte
	CreditCard   []byte
	City         []byte
	State        []byte
	Extra        []byte
}

// Auction is a new auction.
type Auction struct {
	ID          int64
	InitialBid  int64
	Reserve     int64
	DateTime    int64 // ms since the Unix epoch
	Expires     int64 // ms since the Unix epoch
	Seller      int64 // a Person ID
	Category    int64
	ItemName    []byte
	Description []byte
	Extra       []byte
}

// Bid is a bid on an auction.
type Bid struct {
	Auction  int64 // an Auction ID
	Bidder   int64 // a Person ID
	Price    int64 // cents
	DateTime int64 // ms since the Unix epoch
	Extra    []byte
}

// ErrMalformed is wrapped by every decoding error: the value is not an event
// of the kind asked for, or its fields do not fill it exactly.
var ErrMalformed = errors.New("malformed nexmark event")

var le = binary.LittleEndian

// KindOf returns the kind of the encoded event v; ok is false when v is empty.
// It does not check the rest of v.
func KindOf(v []byte) (k Kind, ok bool) {
	if len(v) == 0 {
		return 0, false
	}
	return Kind(v[0]), true
}

// AppendPerson appends the encoding of p to dst. It panics if a string field
// is longer than MaxStringBytes (the generator never makes one).
func AppendPerson(dst []byte, p *Person) []byte {
	dst = append(dst, byte(KindPerson))
	dst = le.AppendUint64(dst, uint64(p.ID))
	dst = le.AppendUint64(dst, uint64(p.DateTime))
	dst = AppendString(dst, p.Name)
	dst = AppendString(dst, p.EmailAddress)
	dst = AppendString(dst, p.CreditCard)
	dst = AppendString(dst, p.City)
	dst = AppendString(dst, p.State)
	return AppendString(dst, p.Extra)
}

// AppendAuction appends the encoding of a to dst. It panics if a string field
// is longer than MaxStringBytes.
func AppendAuction(dst []byte, a *Auction) []byte {
	dst = append(dst, byte(KindAuction))
	dst = le.AppendUint64(dst, uint64(a.ID))
	dst = le.AppendUint64(dst, uint64(a.InitialBid))
	dst = le.AppendUint64(dst, uint64(a.Reserve))
	dst = le.AppendUint64(dst, uint64(a.DateTime))
	dst = le.AppendUint64(dst, uint64(a.Expires))
	dst = le.AppendUint64(dst, uint64(a.Seller))
	dst = le.AppendUint64(dst, uint64(a.Category))
	dst = AppendString(dst, a.ItemName)
	dst = AppendString(dst, a.Description)
	return AppendString(dst, a.Extra)
}

// AppendBid appends the encoding of b to dst. It panics if b.Extra is longer
// than MaxStringBytes.
func AppendBid(dst []byte, b *Bid) []byte {
	dst = append(dst, byte(KindBid))
	dst = le.AppendUint64(dst, uint64(b.Auction))
	dst = le.AppendUint64(dst, uint64(b.Bidder))
	dst = le.AppendUint64(dst, uint64(b.Price))
	dst = le.AppendUint64(dst, uint64(b.DateTime))
	return AppendString(dst, b.Extra)
}

// SetBidPrice overwrites the price of the encoded bid v in place. v must be
// a bid that DecodeBid accepts; it panics when v is too short to hold one.
// An operator that only changes the price (q1) copies the value and sets the
// price instead of decoding and encoding every field: in a Wasm build the
// re-encoding cost more than the rest of the operator.
func SetBidPrice(v []byte, price int64) {
	le.PutUint64(v[17:25], uint64(price))
}

// AppendString appends s as a u16 little-endian length and its bytes. It
// panics if s is longer than MaxStringBytes.
func AppendString(dst, s []byte) []byte {
	if len(s) > MaxStringBytes {
		panic(fmt.Sprintf("nexmark events: string of %d bytes is longer than %d", len(s), MaxStringBytes))
	}
	dst = le.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// DecodePerson decodes a person. The strings of p alias v.
func DecodePerson(v []byte) (p Person, err error) {
	if err := checkFixed(v, KindPerson, personFixedBytes); err != nil {
		return p, err
	}
	p.ID = int64(le.Uint64(v[1:]))
	p.DateTime = int64(le.Uint64(v[9:]))
	r := v[personFixedBytes:]
	var ok bool
	if p.Name, r, ok = String(r); !ok {
		return p, fieldError(KindPerson, "name", v)
	}
	if p.EmailAddress, r, ok = String(r); !ok {
		return p, fieldError(KindPerson, "emailAddress", v)
	}
	if p.CreditCard, r, ok = String(r); !ok {
		return p, fieldError(KindPerson, "creditCard", v)
	}
	if p.City, r, ok = String(r); !ok {
		return p, fieldError(KindPerson, "city", v)
	}
	if p.State, r, ok = String(r); !ok {
		return p, fieldError(KindPerson, "state", v)
	}
	if p.Extra, r, ok = String(r); !ok {
		return p, fieldError(KindPerson, "extra", v)
	}
	return p, checkEnd(KindPerson, v, r)
}

// DecodeAuction decodes an auction. The strings of a alias v.
func DecodeAuction(v []byte) (a Auction, err error) {
	if err := checkFixed(v, KindAuction, auctionFixedBytes); err != nil {
		return a, err
	}
	a.ID = int64(le.Uint64(v[1:]))
	a.InitialBid = int64(le.Uint64(v[9:]))
	a.Reserve = int64(le.Uint64(v[17:]))
	a.DateTime = int64(le.Uint64(v[25:]))
	a.Expires = int64(le.Uint64(v[33:]))
	a.Seller = int64(le.Uint64(v[41:]))
	a.Category = int64(le.Uint64(v[49:]))
	r := v[auctionFixedBytes:]
	var ok bool
	if a.ItemName, r, ok = String(r); !ok {
		return a, fieldError(KindAuction, "itemName", v)
	}
	if a.Description, r, ok = String(r); !ok {
		return a, fieldError(KindAuction, "description", v)
	}
	if a.Extra, r, ok = String(r); !ok {
		return a, fieldError(KindAuction, "extra", v)
	}
	return a, checkEnd(KindAuction, v, r)
}

// DecodeBid decodes a bid. b.Extra aliases v.
func DecodeBid(v []byte) (b Bid, err error) {
	// NB: the bid is the event of the hot path (46 of 50 events): this is
	// written out without helper calls, which cost more in a Wasm build.
	if len(v) < bidFixedBytes+2 || Kind(v[0]) != KindBid {
		return b, checkFixed(v, KindBid, bidFixedBytes+2)
	}
	n := int(le.Uint16(v[bidFixedBytes:]))
	if len(v) != bidFixedBytes+2+n {
		return b, fmt.Errorf("%w: bid of %d bytes, its extra field says %d", ErrMalformed, len(v), bidFixedBytes+2+n)
	}
	b.Auction = int64(le.Uint64(v[1:]))
	b.Bidder = int64(le.Uint64(v[9:]))
	b.Price = int64(le.Uint64(v[17:]))
	b.DateTime = int64(le.Uint64(v[25:]))
	b.Extra = v[bidFixedBytes+2 : len(v) : len(v)]
	return b, nil
}

// String reads a u16-prefixed string from the start of b and returns it and
// the rest of b; ok is false when b is too short.
func String(b []byte) (s, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, b, false
	}
	n := int(le.Uint16(b))
	if len(b)-2 < n {
		return nil, b, false
	}
	return b[2 : 2+n : 2+n], b[2+n:], true
}

func checkFixed(v []byte, k Kind, fixed int) error {
	switch {
	case len(v) == 0:
		return fmt.Errorf("%w: empty value, want a %s", ErrMalformed, k)
	case Kind(v[0]) != k:
		return fmt.Errorf("%w: kind %s, want a %s", ErrMalformed, Kind(v[0]), k)
	case len(v) < fixed:
		return fmt.Errorf("%w: %s of %d bytes, shorter than its %d fixed bytes", ErrMalformed, k, len(v), fixed)
	}
	return nil
}

func fieldError(k Kind, field string, v []byte) error {
	return fmt.Errorf("%w: %s of %d bytes ends inside its %s field", ErrMalformed, k, len(v), field)
}

func checkEnd(k Kind, v, rest []byte) error {
	if len(rest) != 0 {
		return fmt.Errorf("%w: %s of %d bytes has %d bytes after its last field", ErrMalformed, k, len(v), len(rest))
	}
	return nil
}

// KeyBytes is the length of an id key.
const KeyBytes = 8

// AppendKey appends id as an 8-byte big-endian key: the key of a source record
// (the event number) and of the records the queries re-key by an id.
func AppendKey(dst []byte, id int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(id)) }

// Key returns id as an 8-byte big-endian key.
func Key(id int64) [KeyBytes]byte {
	var k [KeyBytes]byte
	binary.BigEndian.PutUint64(k[:], uint64(id))
	return k
}

// ParseKey returns the id of an 8-byte key; ok is false for any other length.
func ParseKey(k []byte) (id int64, ok bool) {
	if len(k) != KeyBytes {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(k)), true
}

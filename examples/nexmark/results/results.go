package results

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/weirstream/weir/plugins/nexmark/events"
)

// Kind is the first byte of a result value.
type Kind byte

// The result kinds (docs/nexmark.md §9). q0 and q1 emit bids (KindBid).
const (
	KindBid Kind = Kind(events.KindBid)
	KindQ2  Kind = 0x20
	KindQ3  Kind = 0x30
	KindQ4  Kind = 0x40
	KindQ5  Kind = 0x50
	KindQ7  Kind = 0x70
	KindQ8  Kind = 0x80
	KindQ11 Kind = 0xB0
)

// ErrMalformed is wrapped by the errors of Decode functions and FormatText.
var ErrMalformed = errors.New("malformed nexmark result")

var le = binary.LittleEndian

// Q2 is a selected bid: its auction and price.
type Q2 struct{ Auction, Price int64 }

// Q3 is a local item suggestion: an auction of category 10 and its seller.
type Q3 struct {
	AuctionID         int64
	Name, City, State []byte
}

// Q4 is the running average winning price of a category after the auctions
// that close at Expires.
type Q4 struct{ Category, Expires, Count, Sum, Average int64 }

// Q5 is a hot auction of a sliding window: Count bids in [WindowStart,
// WindowEnd).
type Q5 struct{ WindowStart, WindowEnd, Auction, Count int64 }

// Q7 is a highest bid of the window that starts at WindowStart.
type Q7 struct {
	WindowStart int64
	Bid         events.Bid
}

// Q8 is a new user who sold in the window of their registration.
type Q8 struct {
	ID, WindowStart int64
	Name            []byte
}

// Q11 is a bidder's session: Count bids, from Start to End (the last bid +
// the gap).
type Q11 struct{ Bidder, Count, Start, End int64 }

func appendInts(dst []byte, k Kind, v ...int64) []byte {
	dst = append(dst, byte(k))
	for _, x := range v {
		dst = le.AppendUint64(dst, uint64(x))
	}
	return dst
}

// AppendQ2 appends the encoding of r to dst.
func AppendQ2(dst []byte, r Q2) []byte { return appendInts(dst, KindQ2, r.Auction, r.Price) }

// AppendQ3 appends the encoding of r to dst.
func AppendQ3(dst []byte, r Q3) []byte {
	dst = appendInts(dst, KindQ3, r.AuctionID)
	dst = events.AppendString(dst, r.Name)
	dst = events.AppendString(dst, r.City)
	return events.AppendString(dst, r.State)
}

// AppendQ4 appends the encoding of r to dst.
func AppendQ4(dst []byte, r Q4) []byte {
	return appendInts(dst, KindQ4, r.Category, r.Expires, r.Count, r.Sum, r.Average)
}

// AppendQ5 appends the encoding of r to dst.
func AppendQ5(dst []byte, r Q5) []byte {
	return appendInts(dst, KindQ5, r.WindowStart, r.WindowEnd, r.Auction, r.Count)
}

// AppendQ7 appends the encoding of r to dst.
func AppendQ7(dst []byte, r Q7) []byte {
	b := &r.Bid
	dst = appendInts(dst, KindQ7, r.WindowStart, b.Auction, b.Bidder, b.Price, b.DateTime)
	return events.AppendString(dst, b.Extra)
}

// AppendQ8 appends the encoding of r to dst.
func AppendQ8(dst []byte, r Q8) []byte {
	return events.AppendString(appendInts(dst, KindQ8, r.ID, r.WindowStart), r.Name)
}

// AppendQ11 appends the encoding of r to dst.
func AppendQ11(dst []byte, r Q11) []byte {
	return appendInts(dst, KindQ11, r.Bidder, r.Count, r.Start, r.End)
}

// reader decodes the fields of one value in order, remembering the first
// failure.
type reader struct {
	v    []byte
	rest []byte
	k    Kind
	err  error
}

func newReader(v []byte, k Kind) *reader {
	r := &reader{v: v, k: k}
	switch {
	case len(v) == 0:
		r.err = fmt.Errorf("%w: empty value, want kind 0x%02x", ErrMalformed, byte(k))
	case Kind(v[0]) != k:
		r.err = fmt.Errorf("%w: kind 0x%02x, want 0x%02x", ErrMalformed, v[0], byte(k))
	default:
		r.rest = v[1:]
	}
	return r
}

func (r *reader) int() int64 {
	if r.err != nil {
		return 0
	}
	if len(r.rest) < 8 {
		r.err = fmt.Errorf("%w: kind 0x%02x value of %d bytes is cut in an integer", ErrMalformed, byte(r.k), len(r.v))
		return 0
	}
	x := int64(le.Uint64(r.rest))
	r.rest = r.rest[8:]
	return x
}

func (r *reader) str() []byte {
	if r.err != nil {
		return nil
	}
	s, rest, ok := events.String(r.rest)
	if !ok {
		r.err = fmt.Errorf("%w: kind 0x%02x value of %d bytes is cut in a string", ErrMalformed, byte(r.k), len(r.v))
		return nil
	}
	r.rest = rest
	return s
}

func (r *reader) end() error {
	if r.err == nil && len(r.rest) != 0 {
		r.err = fmt.Errorf("%w: kind 0x%02x value has %d bytes after its last field", ErrMalformed, byte(r.k), len(r.rest))
	}
	return r.err
}

// DecodeQ2 decodes a q2 result.
func DecodeQ2(v []byte) (Q2, error) {
	r := newReader(v, KindQ2)
	q := Q2{Auction: r.int(), Price: r.int()}
	return q, r.end()
}

// DecodeQ3 decodes a q3 result; its strings alias v.
func DecodeQ3(v []byte) (Q3, error) {
	r := newReader(v, KindQ3)
	q := Q3{AuctionID: r.int()}
	q.Name, q.City, q.State = r.str(), r.str(), r.str()
	return q, r.end()
}

// DecodeQ4 decodes a q4 result.
func DecodeQ4(v []byte) (Q4, error) {
	r := newReader(v, KindQ4)
	q := Q4{Category: r.int(), Expires: r.int(), Count: r.int(), Sum: r.int(), Average: r.int()}
	return q, r.end()
}

// DecodeQ5 decodes a q5 result.
func DecodeQ5(v []byte) (Q5, error) {
	r := newReader(v, KindQ5)
	q := Q5{WindowStart: r.int(), WindowEnd: r.int(), Auction: r.int(), Count: r.int()}
	return q, r.end()
}

// DecodeQ7 decodes a q7 result; its bid's Extra aliases v.
func DecodeQ7(v []byte) (Q7, error) {
	r := newReader(v, KindQ7)
	q := Q7{WindowStart: r.int()}
	q.Bid = events.Bid{Auction: r.int(), Bidder: r.int(), Price: r.int(), DateTime: r.int()}
	q.Bid.Extra = r.str()
	return q, r.end()
}

// DecodeQ8 decodes a q8 result; its Name aliases v.
func DecodeQ8(v []byte) (Q8, error) {
	r := newReader(v, KindQ8)
	q := Q8{ID: r.int(), WindowStart: r.int()}
	q.Name = r.str()
	return q, r.end()
}

// DecodeQ11 decodes a q11 result.
func DecodeQ11(v []byte) (Q11, error) {
	r := newReader(v, KindQ11)
	q := Q11{Bidder: r.int(), Count: r.int(), Start: r.int(), End: r.int()}
	return q, r.end()
}

// Line builders of the canonical text: decimal integers and raw strings,
// separated by commas.

func appendFields(dst []byte, v ...int64) []byte {
	for i, x := range v {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, x, 10)
	}
	return dst
}

func appendStrings(dst []byte, s ...[]byte) []byte {
	for i, x := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, x...)
	}
	return dst
}

// AppendBidText appends the canonical line of a q0 or q1 bid:
// auction,bidder,price,dateTime,extra.
func AppendBidText(dst []byte, b *events.Bid) []byte {
	dst = appendFields(dst, b.Auction, b.Bidder, b.Price, b.DateTime)
	return append(append(dst, ','), b.Extra...)
}

// AppendText appends the canonical line (docs/nexmark.md §8, without a
// newline) of the result value v, whatever its kind, to dst.
func AppendText(dst, v []byte) ([]byte, error) {
	if len(v) == 0 {
		return dst, fmt.Errorf("%w: empty value", ErrMalformed)
	}
	switch Kind(v[0]) {
	case KindBid:
		b, err := events.DecodeBid(v)
		if err != nil {
			return dst, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		return AppendBidText(dst, &b), nil
	case KindQ2:
		q, err := DecodeQ2(v)
		if err != nil {
			return dst, err
		}
		return appendFields(dst, q.Auction, q.Price), nil
	case KindQ3:
		q, err := DecodeQ3(v)
		if err != nil {
			return dst, err
		}
		dst = append(appendStrings(dst, q.Name, q.City, q.State), ',')
		return strconv.AppendInt(dst, q.AuctionID, 10), nil
	case KindQ4:
		q, err := DecodeQ4(v)
		if err != nil {
			return dst, err
		}
		return appendFields(dst, q.Category, q.Expires, q.Count, q.Sum, q.Average), nil
	case KindQ5:
		q, err := DecodeQ5(v)
		if err != nil {
			return dst, err
		}
		return appendFields(dst, q.WindowStart, q.WindowEnd, q.Auction, q.Count), nil
	case KindQ7:
		q, err := DecodeQ7(v)
		if err != nil {
			return dst, err
		}
		dst = append(strconv.AppendInt(dst, q.WindowStart, 10), ',')
		return AppendBidText(dst, &q.Bid), nil
	case KindQ8:
		q, err := DecodeQ8(v)
		if err != nil {
			return dst, err
		}
		dst = append(append(append(strconv.AppendInt(dst, q.ID, 10), ','), q.Name...), ',')
		return strconv.AppendInt(dst, q.WindowStart, 10), nil
	case KindQ11:
		q, err := DecodeQ11(v)
		if err != nil {
			return dst, err
		}
		return appendFields(dst, q.Bidder, q.Count, q.Start, q.End), nil
	}
	return dst, fmt.Errorf("%w: unknown kind 0x%02x", ErrMalformed, v[0])
}

// Text returns the canonical line of the result value v.
func Text(v []byte) (string, error) {
	b, err := AppendText(nil, v)
	return string(b), err
}

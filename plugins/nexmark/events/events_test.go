package events

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func samplePerson() Person {
	return Person{ID: 1001, DateTime: 1735689600123, Name: []byte("Kate Smith"), EmailAddress: []byte("abc@de.com"),
		CreditCard: []byte("0001 0002 0003 0004"), City: []byte("Bend"), State: []byte("OR"), Extra: []byte("xyz")}
}

func sampleAuction() Auction {
	return Auction{ID: 1002, InitialBid: 100, Reserve: 250, DateTime: 1735689600000, Expires: 1735689601000,
		Seller: 1001, Category: 10, ItemName: []byte("item"), Description: []byte("a thing"), Extra: nil}
}

func TestRoundTrip(t *testing.T) {
	p, a, b := samplePerson(), sampleAuction(), Bid{Auction: 1002, Bidder: -5, Price: 1 << 40, DateTime: 7, Extra: []byte("e")}
	gp, err := DecodePerson(AppendPerson(nil, &p))
	if err != nil || !reflect.DeepEqual(gp, p) {
		t.Errorf("person: got %+v, %v; want %+v", gp, err, p)
	}
	ga, err := DecodeAuction(AppendAuction([]byte{}, &a))
	a.Extra = []byte{} // decoding gives an empty slice of the value
	if err != nil || !reflect.DeepEqual(ga, a) {
		t.Errorf("auction: got %+v, %v; want %+v", ga, err, a)
	}
	enc := AppendBid(nil, &b)
	if len(enc) != bidFixedBytes+2+1 || enc[0] != byte(KindBid) {
		t.Fatalf("bid encoding % x: want %d bytes starting with kind 2", enc, bidFixedBytes+3)
	}
	gb, err := DecodeBid(enc)
	if err != nil || !reflect.DeepEqual(gb, b) {
		t.Errorf("bid: got %+v, %v; want %+v", gb, err, b)
	}
}

// TestBidLayout pins the fixed offsets docs/nexmark.md §5 promises.
func TestBidLayout(t *testing.T) {
	enc := AppendBid(nil, &Bid{Auction: 0x0102, Bidder: 0x0304, Price: 0x0506, DateTime: 0x0708, Extra: []byte("ab")})
	want := []byte{2, 2, 1, 0, 0, 0, 0, 0, 0, 4, 3, 0, 0, 0, 0, 0, 0, 6, 5, 0, 0, 0, 0, 0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 2, 0, 'a', 'b'}
	if !bytes.Equal(enc, want) {
		t.Fatalf("got  % x\nwant % x", enc, want)
	}
}

// TestSetBidPrice: setting the price in place gives the encoding of the bid
// with that price, and changes nothing else.
func TestSetBidPrice(t *testing.T) {
	b := Bid{Auction: 1002, Bidder: 7, Price: 12345, DateTime: 99, Extra: []byte("extra")}
	enc := AppendBid(nil, &b)
	SetBidPrice(enc, -3)
	b.Price = -3
	if want := AppendBid(nil, &b); !bytes.Equal(enc, want) {
		t.Fatalf("got  % x\nwant % x", enc, want)
	}
}

func TestMalformed(t *testing.T) {
	p, a := samplePerson(), sampleAuction()
	person, auction := AppendPerson(nil, &p), AppendAuction(nil, &a)
	bid := AppendBid(nil, &Bid{Extra: []byte("abc")})
	tests := []struct {
		name   string
		decode func([]byte) error
		v      []byte
		want   string
	}{
		{"empty bid", decodeBid, nil, "empty value, want a bid"},
		{"person as bid", decodeBid, person, "kind person, want a bid"},
		{"short bid", decodeBid, bid[:20], "bid of 20 bytes, shorter than its 35 fixed bytes"},
		{"bid cut in extra", decodeBid, bid[:len(bid)-1], "its extra field says"},
		{"bid with trailing byte", decodeBid, append(bytes.Clone(bid), 0), "its extra field says"},
		{"unknown kind", decodeBid, []byte{9, 0}, "kind Kind(0x09), want a bid"},
		{"person cut", decodePerson, person[:len(person)-2], "ends inside its extra field"},
		{"person cut early", decodePerson, person[:20], "ends inside its name field"},
		{"person trailing", decodePerson, append(bytes.Clone(person), 1, 2), "has 2 bytes after its last field"},
		{"auction cut", decodeAuction, auction[:60], "ends inside its itemName field"},
		{"auction as person", decodePerson, auction, "kind auction, want a person"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.decode(tc.v)
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrMalformed containing %q", err, tc.want)
			}
		})
	}
}

func decodeBid(v []byte) error     { _, err := DecodeBid(v); return err }
func decodePerson(v []byte) error  { _, err := DecodePerson(v); return err }
func decodeAuction(v []byte) error { _, err := DecodeAuction(v); return err }

func TestKeys(t *testing.T) {
	k := Key(0x0102030405060708)
	if !bytes.Equal(k[:], []byte{1, 2, 3, 4, 5, 6, 7, 8}) || !bytes.Equal(AppendKey(nil, 0x0102030405060708), k[:]) {
		t.Fatalf("key % x", k)
	}
	if id, ok := ParseKey(k[:]); !ok || id != 0x0102030405060708 {
		t.Fatalf("ParseKey: %d, %v", id, ok)
	}
	if _, ok := ParseKey(k[:7]); ok {
		t.Fatal("ParseKey accepted 7 bytes")
	}
}

// FuzzDecode checks that no input makes a decoder panic, and that whatever
// decodes re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	p, a := samplePerson(), sampleAuction()
	f.Add(AppendPerson(nil, &p))
	f.Add(AppendAuction(nil, &a))
	f.Add(AppendBid(nil, &Bid{Extra: []byte("x")}))
	f.Fuzz(func(t *testing.T, v []byte) {
		if p, err := DecodePerson(v); err == nil && !bytes.Equal(AppendPerson(nil, &p), v) {
			t.Fatalf("person % x re-encodes differently", v)
		}
		if a, err := DecodeAuction(v); err == nil && !bytes.Equal(AppendAuction(nil, &a), v) {
			t.Fatalf("auction % x re-encodes differently", v)
		}
		if b, err := DecodeBid(v); err == nil && !bytes.Equal(AppendBid(nil, &b), v) {
			t.Fatalf("bid % x re-encodes differently", v)
		}
	})
}

package results

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/weirstream/weir/plugins/nexmark/events"
)

// TestText pins the canonical line of every kind (docs/nexmark.md §8).
func TestText(t *testing.T) {
	bid := events.Bid{Auction: 1001, Bidder: 2002, Price: 303, DateTime: 1735689600000, Extra: []byte("abc")}
	tests := []struct {
		name string
		v    []byte
		want string
	}{
		{"q0/q1 bid", events.AppendBid(nil, &bid), "1001,2002,303,1735689600000,abc"},
		{"q2", AppendQ2(nil, Q2{Auction: 1230, Price: 77}), "1230,77"},
		{"q3", AppendQ3(nil, Q3{AuctionID: 9, Name: []byte("Kate Smith"), City: []byte("Los Angeles"), State: []byte("CA")}), "Kate Smith,Los Angeles,CA,9"},
		{"q4", AppendQ4(nil, Q4{Category: 10, Expires: 5, Count: 3, Sum: 10, Average: 3}), "10,5,3,10,3"},
		{"q5", AppendQ5(nil, Q5{WindowStart: 0, WindowEnd: 10000, Auction: 1000, Count: 4}), "0,10000,1000,4"},
		{"q7", AppendQ7(nil, Q7{WindowStart: -10000, Bid: bid}), "-10000,1001,2002,303,1735689600000,abc"},
		{"q8", AppendQ8(nil, Q8{ID: 1000, WindowStart: 20000, Name: []byte("Paul White")}), "1000,Paul White,20000"},
		{"q11", AppendQ11(nil, Q11{Bidder: 1001, Count: 2, Start: 1, End: 10002}), "1001,2,1,10002"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Text(tc.v)
			if err != nil || got != tc.want {
				t.Fatalf("Text = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name string
		v    []byte
		want string
	}{
		{"empty", nil, "empty value"},
		{"unknown kind", []byte{0x99}, "unknown kind 0x99"},
		{"short q2", AppendQ2(nil, Q2{})[:9], "cut in an integer"},
		{"long q5", append(AppendQ5(nil, Q5{}), 0), "1 bytes after its last field"},
		{"cut q3 string", AppendQ3(nil, Q3{Name: []byte("abc")})[:12], "cut in a string"},
		{"bad bid", []byte{0x02, 1}, "shorter than its"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Text(tc.v)
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrMalformed containing %q", err, tc.want)
			}
		})
	}
	if _, err := DecodeQ4(AppendQ5(nil, Q5{})); err == nil || !strings.Contains(err.Error(), "kind 0x50, want 0x40") {
		t.Fatalf("DecodeQ4 of a q5 result: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	q7 := Q7{WindowStart: 5, Bid: events.Bid{Auction: 1, Bidder: 2, Price: 3, DateTime: 4, Extra: []byte("e")}}
	g7, err := DecodeQ7(AppendQ7(nil, q7))
	if err != nil || g7.WindowStart != 5 || g7.Bid.Price != 3 || !bytes.Equal(g7.Bid.Extra, []byte("e")) {
		t.Fatalf("q7: %+v, %v", g7, err)
	}
	q8 := Q8{ID: 1, WindowStart: 2, Name: []byte("n")}
	g8, err := DecodeQ8(AppendQ8(nil, q8))
	if err != nil || g8.ID != 1 || g8.WindowStart != 2 || string(g8.Name) != "n" {
		t.Fatalf("q8: %+v, %v", g8, err)
	}
}

// FuzzText checks that no value makes AppendText panic.
func FuzzText(f *testing.F) {
	f.Add(AppendQ3(nil, Q3{AuctionID: 1, Name: []byte("a")}))
	f.Add(AppendQ7(nil, Q7{}))
	f.Add([]byte{0x02})
	f.Fuzz(func(t *testing.T, v []byte) {
		_, _ = AppendText(nil, v)
	})
}

package nexmark_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/weirstream/weir/examples/nexmark/bids"
	"github.com/weirstream/weir/examples/nexmark/q1"
	"github.com/weirstream/weir/examples/nexmark/q11"
	"github.com/weirstream/weir/examples/nexmark/q2"
	"github.com/weirstream/weir/examples/nexmark/q3"
	"github.com/weirstream/weir/examples/nexmark/q4"
	"github.com/weirstream/weir/examples/nexmark/q5"
	"github.com/weirstream/weir/examples/nexmark/q7"
	"github.com/weirstream/weir/examples/nexmark/q8"
	"github.com/weirstream/weir/examples/nexmark/results"
	"github.com/weirstream/weir/examples/nexmark/text"
	"github.com/weirstream/weir/plugins/nexmark/events"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// Event records as the source makes them (the key is unused by the
// operators under test, which re-key).

func bidRec(auction, bidder, price, ts int64) weir.Record {
	return weir.Record{Key: []byte("k"), Value: events.AppendBid(nil, &events.Bid{Auction: auction, Bidder: bidder, Price: price, DateTime: ts, Extra: []byte("x")}), Timestamp: ts}
}

func auctionRec(id, seller, category, ts, expires int64) weir.Record {
	return weir.Record{Key: []byte("k"), Value: events.AppendAuction(nil, &events.Auction{ID: id, Seller: seller, Category: category, DateTime: ts, Expires: expires, InitialBid: 1, Reserve: 2}), Timestamp: ts}
}

func personRec(id int64, name, state string, ts int64) weir.Record {
	return weir.Record{Key: []byte("k"), Value: events.AppendPerson(nil, &events.Person{ID: id, Name: []byte(name), City: []byte("Bend"), State: []byte(state), DateTime: ts}), Timestamp: ts}
}

// pipe runs recs through the stateless stage and returns its output, as the
// keyed stage after it receives it.
func pipe(t *testing.T, stage weir.Operator, recs ...weir.Record) []weir.Record {
	t.Helper()
	h := weirtest.New(t, stage, nil, weirtest.Unkeyed())
	h.Process(recs...)
	return h.Output(0)
}

// lines renders result records as sorted canonical lines.
func lines(t *testing.T, rs []weir.Record) []string {
	t.Helper()
	var out []string
	for _, r := range rs {
		l, err := results.Text(r.Value)
		if err != nil {
			t.Fatalf("output record %q: %v", r.Value, err)
		}
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got == nil {
		got = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestQ1Q2(t *testing.T) {
	in := []weir.Record{bidRec(246, 7, 1000, 5), bidRec(247, 7, 999, 6), auctionRec(246, 1, 10, 1, 9), personRec(1, "A B", "OR", 1)}
	h := weirtest.New(t, q1.Operator, nil, weirtest.Unkeyed())
	h.Process(in...)
	wantLines(t, lines(t, h.Output(0)), "246,7,908,5,x", "247,7,907,6,x")
	h = weirtest.New(t, q2.Operator, nil, weirtest.Unkeyed())
	h.Process(in...)
	wantLines(t, lines(t, h.Output(0)), "246,1000")
}

// TestQ3 checks the join in both arrival orders and the filters.
func TestQ3(t *testing.T) {
	h := weirtest.New(t, q3.Join, nil)
	h.Process(pipe(t, q3.Filter,
		auctionRec(10, 5, 10, 1, 9), // before its seller
		auctionRec(11, 5, 11, 1, 9), // wrong category
		personRec(5, "Kate Smith", "OR", 2),
		auctionRec(12, 5, 10, 3, 9), // after its seller
		personRec(6, "Paul White", "WA", 2),
		auctionRec(13, 6, 10, 3, 9), // seller in the wrong state
	)...)
	wantLines(t, lines(t, h.Output(0)), "Kate Smith,Bend,OR,10", "Kate Smith,Bend,OR,12")
}

// TestQ4Winning checks the bid interval (both ends in), bids that arrive
// before their auction, bids after the close, and an auction without bids.
func TestQ4Winning(t *testing.T) {
	h := weirtest.New(t, q4.Winning, nil)
	h.Process(pipe(t, q4.Key,
		bidRec(1, 9, 500, 100), // before auction 1 arrives, in its interval
		bidRec(1, 9, 900, 99),  // before auction 1 arrives, before its start
		auctionRec(1, 5, 12, 100, 200),
		bidRec(1, 9, 400, 150),
		bidRec(1, 9, 700, 200), // at the expiry: counts
		bidRec(1, 9, 800, 201), // after it: does not
		auctionRec(2, 5, 12, 100, 300),
		bidRec(3, 9, 999, 120), // its auction never comes
	)...)
	h.AdvanceWatermark(250)
	if out := h.Output(0); len(out) != 1 || out[0].Timestamp != 200 {
		t.Fatalf("winners:\n%s\nwant auction 1's at 200", weirtest.FormatRecords(out))
	}
	if v := h.Output(0)[0].Value; len(v) != 17 || le64(v[9:]) != 700 || le64(v[1:]) != 1 {
		t.Fatalf("winner % x, want auction 1 at price 700", v)
	}
	h.AdvanceWatermark(1 << 40)
	if len(h.Output(0)) != 1 {
		t.Fatalf("auction 2 without bids emitted %d records", len(h.Output(0))-1)
	}
	for _, id := range []int64{1, 2, 3} {
		k := events.Key(id)
		if s := h.State("auction", k[:]); len(s) != 0 {
			t.Errorf("auction %d: state left after the end: %v", id, s)
		}
		if s := h.State("early", k[:]); len(s) != 0 {
			t.Errorf("auction %d: early bids left after the end: %v", id, s)
		}
	}
}

func le64(b []byte) int64 {
	var v int64
	for i := 7; i >= 0; i-- {
		v = v<<8 | int64(b[i])
	}
	return v
}

// TestQ4Average checks that closes at the same time are one update and the
// running sums.
func TestQ4Average(t *testing.T) {
	winner := func(category, auction, price, expires int64) weir.Record {
		k := events.Key(category)
		v := append([]byte{0x43}, make([]byte, 16)...)
		for i := range 8 {
			v[1+i], v[9+i] = byte(auction>>(8*i)), byte(price>>(8*i))
		}
		return weir.Record{Key: k[:], Value: v, Timestamp: expires}
	}
	h := weirtest.New(t, q4.Average, nil)
	h.Process(winner(10, 2, 300, 50), winner(10, 1, 100, 20), winner(10, 3, 201, 50), winner(11, 4, 7, 20))
	h.AdvanceWatermark(100)
	wantLines(t, lines(t, h.Output(0)), "10,20,1,100,100", "10,50,3,601,200", "11,20,1,7,7")
}

// TestQ5 checks window counts over panes and ties for the top.
func TestQ5(t *testing.T) {
	const s = 1_000_000 // a multiple of the slide
	count := weirtest.New(t, q5.Count, nil)
	count.Process(pipe(t, bids.ByAuction,
		bidRec(1, 0, 1, s+1), bidRec(1, 0, 1, s+2500), // panes s and s+2000
		bidRec(2, 0, 1, s+100), bidRec(2, 0, 1, s+9000), // panes s and s+8000
		bidRec(3, 0, 1, s+11000),
	)...)
	count.AdvanceWatermark(s + 1<<20)
	hot := weirtest.New(t, q5.Hot, nil)
	hot.Process(count.Output(0)...)
	hot.AdvanceWatermark(s + 1<<20)
	wantLines(t, lines(t, hot.Output(0)),
		"1000000,1010000,1,2", "1000000,1010000,2,2", // a tie
		"1002000,1012000,1,1", "1002000,1012000,2,1", "1002000,1012000,3,1",
		"1004000,1014000,2,1", "1004000,1014000,3,1",
		"1006000,1016000,2,1", "1006000,1016000,3,1",
		"1008000,1018000,2,1", "1008000,1018000,3,1",
		"1010000,1020000,3,1",
		"992000,1002000,1,1", "992000,1002000,2,1",
		"994000,1004000,1,2", "996000,1006000,1,2", "998000,1008000,1,2")
	k := events.Key(1)
	if st := count.State("panes", k[:]); len(st) != 0 {
		t.Errorf("q5 count kept the panes of auction 1 after its last window: %v", st)
	}
}

// TestQ7 checks that a higher bid replaces the tied ones and that ties stay.
func TestQ7(t *testing.T) {
	const s = 1_000_000
	local := weirtest.New(t, q7.Local, nil)
	local.Process(pipe(t, bids.ByAuction,
		bidRec(1, 7, 50, s+1), bidRec(1, 8, 50, s+2), bidRec(1, 9, 60, s+3), bidRec(1, 10, 60, s+4),
		bidRec(2, 11, 60, s+5), bidRec(2, 12, 10, s+6), bidRec(3, 13, 5, s+10_000),
	)...)
	local.AdvanceWatermark(s + 1<<20)
	global := weirtest.New(t, q7.Global, nil)
	global.Process(local.Output(0)...)
	global.AdvanceWatermark(s + 1<<20)
	wantLines(t, lines(t, global.Output(0)),
		"1000000,1,10,60,1000004,x", "1000000,1,9,60,1000003,x", "1000000,2,11,60,1000005,x", "1010000,3,13,5,1010000,x")
	k := events.Key(1)
	if st := local.State("tied", k[:]); len(st) != 0 {
		t.Errorf("q7 local kept %d tied bids of auction 1 after the window", len(st))
	}
}

func TestQ8(t *testing.T) {
	h := weirtest.New(t, q8.Join, nil)
	h.Process(pipe(t, q8.Key,
		personRec(5, "Kate Smith", "OR", 1_000_100),
		auctionRec(1, 5, 10, 1_009_999, 2_000_000), // same window
		auctionRec(2, 5, 10, 1_010_000, 2_000_000), // the next one
		personRec(6, "Paul White", "WA", 1_000_200),
		auctionRec(3, 6, 10, 1_010_001, 2_000_000), // not the person's window
		auctionRec(4, 7, 10, 1_000_000, 2_000_000), // no such person
	)...)
	h.AdvanceWatermark(1 << 40)
	wantLines(t, lines(t, h.Output(0)), "5,Kate Smith,1000000")
}

// TestQ11 checks strict sessions: a bid exactly one gap after the last starts
// a new session; a bid between two sessions joins them; order does not
// matter.
func TestQ11(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   []int64
		want []string
	}{
		{"gap apart", []int64{1000, 11000}, []string{"5,1,1000,11000", "5,1,11000,21000"}},
		{"just under the gap", []int64{1000, 10999}, []string{"5,2,1000,20999"}},
		{"not a bridge", []int64{1000, 20500, 12000}, []string{"5,1,1000,11000", "5,2,12000,30500"}},
		{"bridge", []int64{1000, 19000, 10000}, []string{"5,3,1000,29000"}},
		{"reversed", []int64{10000, 19000, 1000}, []string{"5,3,1000,29000"}},
		{"three sessions", []int64{50000, 1000, 30000}, []string{"5,1,1000,11000", "5,1,30000,40000", "5,1,50000,60000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := weirtest.New(t, q11.Operator, nil)
			var in []weir.Record
			for _, ts := range tc.ts {
				in = append(in, bidRec(1, 5, 1, ts))
			}
			h.Process(pipe(t, bids.ByBidder, in...)...)
			h.AdvanceWatermark(1 << 40)
			wantLines(t, lines(t, h.Output(0)), tc.want...)
			if len(h.Timers()) != 0 {
				t.Errorf("timers left: %v", h.Timers())
			}
		})
	}
}

// TestQ11GrowingSession fires a session's first timer while it grew since,
// which must re-arm rather than emit.
func TestQ11GrowingSession(t *testing.T) {
	h := weirtest.New(t, q11.Operator, nil)
	h.Process(pipe(t, bids.ByBidder, bidRec(1, 5, 1, 1000), bidRec(1, 5, 1, 9000))...)
	h.AdvanceWatermark(10_999) // the first timer: the session now ends at 19000
	if len(h.Output(0)) != 0 {
		t.Fatalf("emitted %q before the session's end", lines(t, h.Output(0)))
	}
	h.Process(pipe(t, bids.ByBidder, bidRec(1, 5, 1, 18_000))...)
	h.AdvanceWatermark(1 << 40)
	wantLines(t, lines(t, h.Output(0)), "5,3,1000,28000")
}

func TestTextOperator(t *testing.T) {
	h := weirtest.New(t, text.Operator, nil, weirtest.Unkeyed())
	h.Process(weir.Record{Key: []byte("k"), Value: results.AppendQ11(nil, results.Q11{Bidder: 1, Count: 2, Start: 3, End: 4})})
	if out := h.Output(0); len(out) != 1 || string(out[0].Value) != "1,2,3,4" {
		t.Fatalf("got %v", weirtest.FormatRecords(out))
	}
	if err := h.TryProcess(weir.Record{Value: []byte{0x99}}); err == nil || !strings.Contains(err.Error(), "unknown kind 0x99") {
		t.Fatalf("a value that is not a result: %v", err)
	}
}

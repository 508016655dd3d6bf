package nexmark

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/weirstream/weir/plugins/nexmark/events"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.txt")

func mustGenerator(t testing.TB, cfg Config) *Generator {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestSplitMix64 checks the PRNG against the reference splitmix64.c
// (docs/nexmark.md §1): its first outputs from states 0 and 1.
func TestSplitMix64(t *testing.T) {
	tests := []struct {
		name  string
		state uint64
		want  []uint64
	}{
		{"state 0", 0, []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}},
		{"state 1", 1, []uint64{0x910a2dec89025cc1, 0xbeeb8da1658eec67}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := splitmix{s: tc.state}
			for i, want := range tc.want {
				if got := r.next(); got != want {
					t.Fatalf("draw %d: got %#x, want %#x", i, got, want)
				}
			}
		})
	}
}

func TestBoundedDraw(t *testing.T) {
	tests := []struct {
		name  string
		bound int64
	}{
		{"one", 1}, {"two", 2}, {"small", 26}, {"ten thousand", 10_000}, {"2^31", 1 << 31}, {"2^32", 1 << 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ref := splitmix{s: 42}, splitmix{s: 42}
			for range 10_000 {
				got := r.u(tc.bound)
				want := int64(((ref.next() >> 32) * uint64(tc.bound)) >> 32)
				if got != want || got < 0 || got >= tc.bound {
					t.Fatalf("U(%d) = %d, want %d in [0, %d)", tc.bound, got, want, tc.bound)
				}
			}
		})
	}
}

func TestTimestamp(t *testing.T) {
	tests := []struct {
		name string
		rate int64
		n    int64
		want int64 // offset from firstEventTime
	}{
		{"first", 10_000, 0, 0},
		{"within a ms", 10_000, 9, 0},
		{"next ms", 10_000, 10, 1},
		{"one per second", 1, 7, 7000},
		{"three per second", 3, 4, 1333},
		{"large n", 7, 1 << 40, (1<<40)/7*1000 + ((1<<40)%7)*1000/7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.EventsPerSecond = tc.rate
			g := mustGenerator(t, cfg)
			if got := g.Timestamp(tc.n) - cfg.FirstEventTime; got != tc.want {
				t.Fatalf("ts(%d) - first = %d, want %d", tc.n, got, tc.want)
			}
		})
	}
}

// TestModel checks the properties of the Nexmark model that docs/nexmark.md
// promises over the first 100 000 events of the default configuration.
func TestModel(t *testing.T) {
	cfg := DefaultConfig()
	g := mustGenerator(t, cfg)
	const n = 100_000
	var (
		persons, auctions, bids   int64
		hotAuction, hotBidder     int64
		bidExtra, auctionCategory = int64(0), map[int64]int{}
	)
	lastPerson, lastAuction := int64(firstPersonID-1), int64(firstAuctionID-1)
	var buf []byte
	for i := int64(0); i < n; i++ {
		var ts int64
		buf, ts = g.AppendEvent(buf[:0], i)
		if ts != g.Timestamp(i) {
			t.Fatalf("event %d: timestamp %d, want %d", i, ts, g.Timestamp(i))
		}
		wantKind := events.KindBid
		switch i % 50 {
		case 0:
			wantKind = events.KindPerson
		case 1, 2, 3:
			wantKind = events.KindAuction
		}
		if k, _ := events.KindOf(buf); k != wantKind || g.Kind(i) != wantKind {
			t.Fatalf("event %d: kind %v (Kind says %v), want %v", i, k, g.Kind(i), wantKind)
		}
		switch wantKind {
		case events.KindPerson:
			p, err := events.DecodePerson(buf)
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			persons++
			if p.ID != lastPerson+1 || p.DateTime != ts {
				t.Fatalf("event %d: person %d at %d, want id %d at %d", i, p.ID, p.DateTime, lastPerson+1, ts)
			}
			lastPerson = p.ID
			if !bytes.Contains(p.EmailAddress, []byte("@")) || len(p.CreditCard) != 19 || len(p.State) != 2 {
				t.Fatalf("event %d: odd person %+v", i, p)
			}
		case events.KindAuction:
			a, err := events.DecodeAuction(buf)
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			auctions++
			if a.ID != lastAuction+1 {
				t.Fatalf("event %d: auction id %d, want %d", i, a.ID, lastAuction+1)
			}
			lastAuction = a.ID
			if a.Expires <= a.DateTime || a.Reserve <= a.InitialBid || a.Seller > lastPerson+personIDLead {
				t.Fatalf("event %d: odd auction %+v (last person %d)", i, a, lastPerson)
			}
			auctionCategory[a.Category]++
		default:
			b, err := events.DecodeBid(buf)
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			bids++
			if b.Auction > lastAuction+auctionIDLead || b.Auction < firstAuctionID || b.Price < 100 || b.Price >= 100_000_000 {
				t.Fatalf("event %d: odd bid %+v (last auction %d)", i, b, lastAuction)
			}
			if b.Auction == (lastAuction-firstAuctionID)/hotBlock*hotBlock+firstAuctionID {
				hotAuction++
			}
			if b.Bidder == (lastPerson-firstPersonID)/hotBlock*hotBlock+1+firstPersonID {
				hotBidder++
			}
			bidExtra += int64(len(b.Extra))
		}
	}
	if persons != n/50 || auctions != 3*n/50 || bids != 46*n/50 {
		t.Errorf("got %d persons, %d auctions, %d bids, want 1:3:46 of %d", persons, auctions, bids, n)
	}
	// Hot auctions and bidders: probability 1-1/ratio plus the cold draws
	// that land on the hot id; a wide band catches a wrong draw order.
	if f := float64(hotAuction) / float64(bids); f < 0.45 || f > 0.60 {
		t.Errorf("%.3f of bids are for the hot auction, want about 1 - 1/%d", f, cfg.HotAuctionRatio)
	}
	if f := float64(hotBidder) / float64(bids); f < 0.70 || f > 0.80 {
		t.Errorf("%.3f of bids are by the hot bidder, want about 1 - 1/%d", f, cfg.HotBiddersRatio)
	}
	if avg := float64(bidExtra) / float64(bids); avg < 66 || avg > 70 {
		t.Errorf("bid extra is %.1f bytes on average, want about %d - 32", avg, cfg.AvgBidByteSize)
	}
	for c := int64(firstCategoryID); c < firstCategoryID+numCategories; c++ {
		if f := float64(auctionCategory[c]) / float64(auctions); f < 0.15 || f > 0.25 {
			t.Errorf("category %d has %.3f of auctions, want about 1/5", c, f)
		}
	}
	if len(auctionCategory) != numCategories {
		t.Errorf("categories %v, want %d..%d", auctionCategory, firstCategoryID, firstCategoryID+numCategories-1)
	}
}

// TestEventIndependence checks that an event depends only on its number: the
// same event from a fresh generator and after others are identical.
func TestEventIndependence(t *testing.T) {
	g := mustGenerator(t, DefaultConfig())
	for _, n := range []int64{0, 1, 4, 49, 50, 12345, 1 << 40} {
		a, ta := mustGenerator(t, DefaultConfig()).Event(n)
		for k := int64(0); k < 20; k++ {
			g.Event(k * 7)
		}
		b, tb := g.Event(n)
		if !bytes.Equal(a, b) || ta != tb {
			t.Fatalf("event %d differs between generators", n)
		}
	}
}

// vectorsHashEvents is how many events the digest of testdata/vectors.txt
// covers; vectorsListed how many it lists one by one.
const (
	vectorsHashEvents = 100_000
	vectorsListed     = 60
)

// vectors returns the text of testdata/vectors.txt for the default
// configuration (docs/nexmark.md §7).
func vectors(t *testing.T) string {
	g := mustGenerator(t, DefaultConfig())
	var sb strings.Builder
	sb.WriteString("# Nexmark generator test vectors (docs/nexmark.md §7): seed 1, default configuration.\n")
	sb.WriteString("# <n> <timestamp> <hex of the value>, then the SHA-256 of records 0..99999, each hashed as\n")
	sb.WriteString("# key (8 bytes big-endian n) || timestamp (i64 little-endian) || u32 little-endian value length || value.\n")
	h := sha256.New()
	var buf, rec []byte
	for n := int64(0); n < vectorsHashEvents; n++ {
		var ts int64
		buf, ts = g.AppendEvent(buf[:0], n)
		if n < vectorsListed {
			fmt.Fprintf(&sb, "%d %d %s\n", n, ts, hex.EncodeToString(buf))
		}
		rec = binary.BigEndian.AppendUint64(rec[:0], uint64(n))
		rec = binary.LittleEndian.AppendUint64(rec, uint64(ts))
		rec = binary.LittleEndian.AppendUint32(rec, uint32(len(buf)))
		h.Write(rec)
		h.Write(buf)
	}
	fmt.Fprintf(&sb, "sha256 0..%d %x\n", vectorsHashEvents-1, h.Sum(nil))
	return sb.String()
}

// TestVectors checks the generator against testdata/vectors.txt, which a
// second implementation of docs/nexmark.md checks itself against too. Run
// with -update after a deliberate change of the specification.
func TestVectors(t *testing.T) {
	path := filepath.Join("testdata", "vectors.txt")
	got := vectors(t)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s line %d:\ngot  %s\nwant %s", path, i+1, g, w)
		}
	}
}

// TestVectorsDecode checks that every listed vector decodes as the kind its
// number says, with the documented fields of event 0, a person.
func TestVectorsDecode(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "vectors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	seen := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || strings.HasPrefix(fields[0], "#") || fields[0] == "sha256" {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		v, err := hex.DecodeString(fields[2])
		if err != nil {
			t.Fatalf("vector %d: %v", n, err)
		}
		switch k, _ := events.KindOf(v); k {
		case events.KindPerson:
			_, err = events.DecodePerson(v)
		case events.KindAuction:
			_, err = events.DecodeAuction(v)
		default:
			_, err = events.DecodeBid(v)
		}
		if err != nil {
			t.Fatalf("vector %d: %v", n, err)
		}
		if n == 0 {
			p, _ := events.DecodePerson(v)
			if p.ID != 1000 || p.DateTime != DefaultFirstEventTime {
				t.Fatalf("vector 0: person %d at %d, want 1000 at %d", p.ID, p.DateTime, DefaultFirstEventTime)
			}
		}
		seen++
	}
	if seen != vectorsListed {
		t.Fatalf("read %d vectors, want %d", seen, vectorsListed)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"negative events", func(c *Config) { c.Events = -1 }, []string{"option events: -1 is negative"}},
		{"zero splits", func(c *Config) { c.Splits = 0 }, []string{"option splits: 0 is outside 1..65536"}},
		{"zero rate", func(c *Config) { c.EventsPerSecond = 0 }, []string{"option eventsPerSecond: 0 is outside"}},
		{"no people", func(c *Config) { c.PersonProportion = 0 }, []string{"option personProportion: 0 is less than 1; auctions and bids need people"}},
		{"no auctions", func(c *Config) { c.AuctionProportion = 0 }, []string{"option auctionProportion: 0 is less than 1; bids need auctions"}},
		{"negative bids", func(c *Config) { c.BidProportion = -2 }, []string{"option bidProportion: -2 is negative"}},
		{"huge proportions", func(c *Config) { c.BidProportion = 2_000_000 }, []string{"is more than 1000000"}},
		{"zero hot ratio", func(c *Config) { c.HotAuctionRatio = 0 }, []string{"option hotAuctionRatio: 0 is outside 1..4294967296"}},
		{"zero in-flight auctions", func(c *Config) { c.NumInFlightAuctions = 0 }, []string{"option numInFlightAuctions: 0 is outside"}},
		{"negative byte size", func(c *Config) { c.AvgBidByteSize = -1 }, []string{"option avgBidByteSize: -1 bytes is outside 0..10000"}},
		{"auctions too long", func(c *Config) { c.EventsPerSecond = 1; c.NumInFlightAuctions = 200_000 }, []string{"auctions would last up to", "lower numInFlightAuctions"}},
		{"timestamps overflow", func(c *Config) { c.FirstEventTime = 1 << 62; c.EventsPerSecond = 1; c.NumInFlightAuctions = 1 }, []string{"option events: the dateTime of event"}},
		{"two at once", func(c *Config) { c.Splits = -1; c.HotBiddersRatio = -1 }, []string{"option splits", "option hotBiddersRatio"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.edit(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatal("Validate accepted the configuration")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if err := (&Config{}).Validate(); err == nil {
		t.Error("the zero Config is valid; want errors")
	}
	def := DefaultConfig()
	if err := def.Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
}

func BenchmarkGenerate(b *testing.B) {
	g := mustGenerator(b, DefaultConfig())
	buf := make([]byte, 0, 4096)
	var size int
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf, _ = g.AppendEvent(buf[:0], int64(i))
		size += len(buf)
	}
	b.ReportMetric(float64(size)/float64(b.N), "bytes/event")
}

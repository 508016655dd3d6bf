package nexmark

import (
	"encoding/binary"
	"fmt"

	"github.com/weirstream/weir/plugins/nexmark/events"
)

// Constants of the Nexmark model (docs/nexmark.md §2).
const (
	firstPersonID   = 1000
	firstAuctionID  = 1000
	firstCategoryID = 10
	numCategories   = 5
	personIDLead    = 10
	auctionIDLead   = 10
	// hotBlock is HOT_SELLER_RATIO = HOT_AUCTION_RATIO = HOT_BIDDER_RATIO:
	// a hot id is the first (the second, for bidders) of a block of this many.
	hotBlock = 100
	// poolBytes is the length of the letter pool random strings are cut from.
	poolBytes = 1 << 16
	// gamma is SplitMix64's increment.
	gamma = 0x9e3779b97f4a7c15
)

var (
	firstNames = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	usCities   = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	usStates   = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
)

// mix64 is SplitMix64's output function (docs/nexmark.md §1).
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// splitmix is a SplitMix64 generator.
type splitmix struct{ s uint64 }

// next returns the next draw.
func (r *splitmix) next() uint64 {
	r.s += gamma
	return mix64(r.s)
}

// u returns U(b), an integer in [0, b), for 1 <= b <= 2^32.
func (r *splitmix) u(b int64) int64 {
	r.s += gamma
	return int64(((mix64(r.s) >> 32) * uint64(b)) >> 32)
}

// Generator makes the Nexmark events of one configuration: event n, for any n,
// without the events before it. It is safe for concurrent use.
type Generator struct {
	cfg          Config
	total        int64 // totalProportion
	auctionAhead int64 // numInFlightAuctions * total / auctionProportion
	pool         [poolBytes]byte
}

// NewGenerator returns the generator of cfg, or the errors of cfg.Validate.
func NewGenerator(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg, total: cfg.totalProportion()}
	g.auctionAhead = cfg.NumInFlightAuctions * g.total / cfg.AuctionProportion
	r := splitmix{s: ^cfg.Seed}
	for i := range g.pool {
		g.pool[i] = 'a' + byte(r.u(26))
	}
	return g, nil
}

// Config returns the generator's configuration.
func (g *Generator) Config() Config { return g.cfg }

// Timestamp returns ts(n), the dateTime of event n in ms.
func (g *Generator) Timestamp(n int64) int64 {
	r := g.cfg.EventsPerSecond
	s := n / r
	return g.cfg.FirstEventTime + s*1000 + (n-s*r)*1000/r
}

// Kind returns the kind of event n.
func (g *Generator) Kind(n int64) events.Kind {
	rem := n % g.total
	switch {
	case rem < g.cfg.PersonProportion:
		return events.KindPerson
	case rem < g.cfg.PersonProportion+g.cfg.AuctionProportion:
		return events.KindAuction
	}
	return events.KindBid
}

// stream returns the generator of event n's draws.
func (g *Generator) stream(n int64) splitmix {
	return splitmix{s: mix64(g.cfg.Seed + uint64(n+1)*gamma)}
}

// AppendEvent appends the encoding of event n (docs/nexmark.md §5) to dst and
// returns the extended slice and the event's dateTime. It allocates only when
// dst has too little room.
func (g *Generator) AppendEvent(dst []byte, n int64) ([]byte, int64) {
	ts := g.Timestamp(n)
	return g.appendEvent(dst, n, ts), ts
}

// appendEvent appends the encoding of event n, whose dateTime is ts =
// g.Timestamp(n), to dst.
func (g *Generator) appendEvent(dst []byte, n, ts int64) []byte {
	r := g.stream(n)
	// NB: one division for the event's place in its epoch, not one in each of
	// the helpers (a 64-bit division costs as much as several draws).
	epoch := n / g.total
	e := at{n: n, epoch: epoch, offset: n - epoch*g.total}
	switch {
	case e.offset < g.cfg.PersonProportion:
		return g.appendPerson(dst, e, ts, &r)
	case e.offset < g.cfg.PersonProportion+g.cfg.AuctionProportion:
		return g.appendAuction(dst, e, ts, &r)
	}
	return g.appendBid(dst, e, ts, &r)
}

// at is event n and its place in the model: n = epoch * totalProportion +
// offset, 0 <= offset < totalProportion.
type at struct{ n, epoch, offset int64 }

// Event returns event n's encoding in a new slice, and its dateTime.
func (g *Generator) Event(n int64) ([]byte, int64) { return g.AppendEvent(nil, n) }

// lastBase0PersonID returns the last person id (from 0) generated at or
// before event e.
func (g *Generator) lastBase0PersonID(e at) int64 {
	epoch, offset := e.epoch, e.offset
	if offset >= g.cfg.PersonProportion {
		offset = g.cfg.PersonProportion - 1
	}
	return epoch*g.cfg.PersonProportion + offset
}

// lastBase0AuctionID returns the last auction id (from 0) generated at or
// before event e (-1 before the first).
func (g *Generator) lastBase0AuctionID(e at) int64 {
	epoch, offset := e.epoch, e.offset
	p, a := g.cfg.PersonProportion, g.cfg.AuctionProportion
	switch {
	case offset < p:
		epoch--
		offset = a - 1
	case offset >= p+a:
		offset = a - 1
	default:
		offset -= p
	}
	return epoch*a + offset
}

func (g *Generator) nextBase0PersonID(e at, r *splitmix) int64 {
	numPeople := g.lastBase0PersonID(e) + 1
	active := min(numPeople, g.cfg.NumActivePeople)
	return numPeople - active + r.u(active+personIDLead)
}

func (g *Generator) nextBase0AuctionID(e at, r *splitmix) int64 {
	maxAuction := g.lastBase0AuctionID(e)
	minAuction := max(maxAuction-g.cfg.NumInFlightAuctions, 0)
	return minAuction + r.u(maxAuction-minAuction+1+auctionIDLead)
}

// price draws a price in cents, log-uniform per decade in [100, 10^8).
func price(r *splitmix) int64 {
	base := priceBases[r.u(int64(len(priceBases)))]
	return base + r.u(9*base)
}

// priceBases are the decades of price: 100 * 10^k for the draw k = U(6).
var priceBases = [6]int64{100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000}

// poolString draws a string of length l from the letter pool.
func (g *Generator) poolString(l int64, r *splitmix) []byte {
	o := r.u(poolBytes - l + 1)
	return g.pool[o : o+l : o+l]
}

// extra draws the padding of an event of currentSize bytes towards avgSize.
func (g *Generator) extra(currentSize, avgSize int64, r *splitmix) []byte {
	if currentSize > avgSize {
		return nil
	}
	d := avgSize - currentSize
	delta := (d + 2) / 5
	size := d - delta
	if delta > 0 {
		size += r.u(2 * delta)
	}
	return g.poolString(size, r)
}

func (g *Generator) appendPerson(dst []byte, e at, ts int64, r *splitmix) []byte {
	first, last := firstNames[r.u(int64(len(firstNames)))], lastNames[r.u(int64(len(lastNames)))]
	local := g.poolString(3+r.u(4), r)
	domain := g.poolString(3+r.u(2), r)
	var cc [19]byte
	for i := range 4 {
		v := r.u(10000)
		for j := 3; j >= 0; j-- {
			cc[i*5+j] = '0' + byte(v%10)
			v /= 10
		}
		if i < 3 {
			cc[i*5+4] = ' '
		}
	}
	city := usCities[r.u(int64(len(usCities)))]
	state := usStates[r.u(int64(len(usStates)))]
	nameLen := len(first) + 1 + len(last)
	emailLen := len(local) + 1 + len(domain) + len(".com")
	size := int64(8 + nameLen + emailLen + len(cc) + len(city) + len(state))
	extra := g.extra(size, g.cfg.AvgPersonByteSize, r)

	dst = append(dst, byte(events.KindPerson))
	dst = le.AppendUint64(dst, uint64(g.lastBase0PersonID(e)+firstPersonID))
	dst = le.AppendUint64(dst, uint64(ts))
	dst = le.AppendUint16(dst, uint16(nameLen))
	dst = append(append(append(dst, first...), ' '), last...)
	dst = le.AppendUint16(dst, uint16(emailLen))
	dst = append(append(append(append(dst, local...), '@'), domain...), ".com"...)
	dst = events.AppendString(dst, cc[:])
	dst = le.AppendUint16(dst, uint16(len(city)))
	dst = append(dst, city...)
	dst = le.AppendUint16(dst, uint16(len(state)))
	dst = append(dst, state...)
	return events.AppendString(dst, extra)
}

func (g *Generator) appendAuction(dst []byte, e at, ts int64, r *splitmix) []byte {
	var seller int64
	if r.u(g.cfg.HotSellersRatio) > 0 {
		seller = (g.lastBase0PersonID(e) / hotBlock) * hotBlock
	} else {
		seller = g.nextBase0PersonID(e, r)
	}
	category := firstCategoryID + r.u(numCategories)
	initialBid := price(r)
	horizon := g.Timestamp(e.n+g.auctionAhead) - ts
	expires := ts + 1 + r.u(max(2*horizon, 1))
	name := g.poolString(3+r.u(17), r)
	desc := g.poolString(3+r.u(97), r)
	reserve := initialBid + price(r)
	extra := g.extra(int64(8+len(name)+len(desc)+40), g.cfg.AvgAuctionByteSize, r)

	dst = append(dst, byte(events.KindAuction))
	dst = le.AppendUint64(dst, uint64(g.lastBase0AuctionID(e)+firstAuctionID))
	dst = le.AppendUint64(dst, uint64(initialBid))
	dst = le.AppendUint64(dst, uint64(reserve))
	dst = le.AppendUint64(dst, uint64(ts))
	dst = le.AppendUint64(dst, uint64(expires))
	dst = le.AppendUint64(dst, uint64(seller+firstPersonID))
	dst = le.AppendUint64(dst, uint64(category))
	dst = events.AppendString(dst, name)
	dst = events.AppendString(dst, desc)
	return events.AppendString(dst, extra)
}

func (g *Generator) appendBid(dst []byte, e at, ts int64, r *splitmix) []byte {
	var auction, bidder int64
	if r.u(g.cfg.HotAuctionRatio) > 0 {
		auction = (g.lastBase0AuctionID(e) / hotBlock) * hotBlock
	} else {
		auction = g.nextBase0AuctionID(e, r)
	}
	if r.u(g.cfg.HotBiddersRatio) > 0 {
		bidder = (g.lastBase0PersonID(e)/hotBlock)*hotBlock + 1
	} else {
		bidder = g.nextBase0PersonID(e, r)
	}
	p := price(r)
	extra := g.extra(32, g.cfg.AvgBidByteSize, r)

	dst = append(dst, byte(events.KindBid))
	dst = le.AppendUint64(dst, uint64(auction+firstAuctionID))
	dst = le.AppendUint64(dst, uint64(bidder+firstPersonID))
	dst = le.AppendUint64(dst, uint64(p))
	dst = le.AppendUint64(dst, uint64(ts))
	return events.AppendString(dst, extra)
}

func (g *Generator) String() string {
	return fmt.Sprintf("nexmark generator (seed %d, %d events/s of event time)", g.cfg.Seed, g.cfg.EventsPerSecond)
}

var le = binary.LittleEndian

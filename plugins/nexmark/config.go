package nexmark

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Limits of the configuration (docs/nexmark.md §2).
const (
	// maxSplits bounds the splits option.
	maxSplits = 1 << 16
	// maxTotalProportion bounds personProportion + auctionProportion +
	// bidProportion.
	maxTotalProportion = 1_000_000
	// maxCount bounds numInFlightAuctions and numActivePeople.
	maxCount = 1_000_000_000
	// maxEventsPerSecond bounds the event-time rate.
	maxEventsPerSecond = 1_000_000_000
	// maxAvgByteSize bounds the avg*ByteSize options, in bytes, so that every
	// random string fits the letter pool.
	maxAvgByteSize = 10_000
	// maxBound is the largest bound of a bounded draw U(b).
	maxBound = 1 << 32
	// maxUnboundedEvent is the event number up to which an unbounded
	// generator's timestamps are checked not to overflow.
	maxUnboundedEvent = 1 << 53
)

// DefaultFirstEventTime is the default dateTime of event 0:
// 2025-01-01T00:00:00Z.
var DefaultFirstEventTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// Config is the generator's configuration (docs/nexmark.md §2). The zero value
// is not valid: start from DefaultConfig.
type Config struct {
	Seed   uint64
	Events int64 // 0: unbounded
	Splits int
	// FirstEventTime is the dateTime of event 0, in ms since the Unix epoch.
	FirstEventTime int64
	// EventsPerSecond is the event-time rate: event n happens at
	// FirstEventTime + floor(n*1000/EventsPerSecond) ms.
	EventsPerSecond int64
	// RateLimited makes the source also emit at EventsPerSecond in processing
	// time (by SourceEnv.Clock); otherwise it emits as fast as it can.
	RateLimited bool

	PersonProportion  int64
	AuctionProportion int64
	BidProportion     int64

	HotAuctionRatio int64
	HotSellersRatio int64
	HotBiddersRatio int64

	NumInFlightAuctions int64
	NumActivePeople     int64

	AvgPersonByteSize  int64
	AvgAuctionByteSize int64
	AvgBidByteSize     int64
}

// DefaultConfig returns the defaults of every option: seed 1, unbounded, one
// split, 10 000 events per second of event time from 2025-01-01, and the
// standard Nexmark model.
func DefaultConfig() Config {
	return Config{
		Seed: 1, Splits: 1, FirstEventTime: DefaultFirstEventTime, EventsPerSecond: 10_000,
		PersonProportion: 1, AuctionProportion: 3, BidProportion: 46,
		HotAuctionRatio: 2, HotSellersRatio: 4, HotBiddersRatio: 4,
		NumInFlightAuctions: 100, NumActivePeople: 1000,
		AvgPersonByteSize: 200, AvgAuctionByteSize: 500, AvgBidByteSize: 100,
	}
}

// totalProportion returns P + A + B.
func (c *Config) totalProportion() int64 {
	return c.PersonProportion + c.AuctionProportion + c.BidProportion
}

// Validate reports every option that is out of range or inconsistent with the
// others, each error naming the option.
func (c *Config) Validate() error {
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("nexmark source: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	if c.Events < 0 {
		bad("events", "%d is negative (0 means unbounded)", c.Events)
	}
	if c.Splits < 1 || c.Splits > maxSplits {
		bad("splits", "%d is outside 1..%d", c.Splits, maxSplits)
	}
	if c.EventsPerSecond < 1 || c.EventsPerSecond > maxEventsPerSecond {
		bad("eventsPerSecond", "%d is outside 1..%d", c.EventsPerSecond, maxEventsPerSecond)
	}
	if c.FirstEventTime == abi.NoTimestamp {
		bad("firstEventTime", "%d is abi.NoTimestamp", c.FirstEventTime)
	}
	if c.PersonProportion < 1 {
		bad("personProportion", "%d is less than 1; auctions and bids need people", c.PersonProportion)
	}
	if c.AuctionProportion < 1 {
		bad("auctionProportion", "%d is less than 1; bids need auctions", c.AuctionProportion)
	}
	if c.BidProportion < 0 {
		bad("bidProportion", "%d is negative", c.BidProportion)
	}
	proportionsOK := c.PersonProportion >= 1 && c.AuctionProportion >= 1 && c.BidProportion >= 0
	if proportionsOK && c.totalProportion() > maxTotalProportion {
		bad("bidProportion", "personProportion + auctionProportion + bidProportion = %d is more than %d", c.totalProportion(), maxTotalProportion)
		proportionsOK = false
	}
	for _, r := range []struct {
		name string
		v    int64
	}{{"hotAuctionRatio", c.HotAuctionRatio}, {"hotSellersRatio", c.HotSellersRatio}, {"hotBiddersRatio", c.HotBiddersRatio}} {
		if r.v < 1 || r.v > maxBound {
			bad(r.name, "%d is outside 1..%d", r.v, int64(maxBound))
		}
	}
	if c.NumInFlightAuctions < 1 || c.NumInFlightAuctions > maxCount {
		bad("numInFlightAuctions", "%d is outside 1..%d", c.NumInFlightAuctions, maxCount)
	}
	if c.NumActivePeople < 1 || c.NumActivePeople > maxCount {
		bad("numActivePeople", "%d is outside 1..%d", c.NumActivePeople, maxCount)
	}
	for _, s := range []struct {
		name string
		v    int64
	}{{"avgPersonByteSize", c.AvgPersonByteSize}, {"avgAuctionByteSize", c.AvgAuctionByteSize}, {"avgBidByteSize", c.AvgBidByteSize}} {
		if s.v < 0 || s.v > maxAvgByteSize {
			bad(s.name, "%d bytes is outside 0..%d", s.v, maxAvgByteSize)
		}
	}
	if len(errs) == 0 && proportionsOK {
		// The auction-length bound and the timestamps depend on several
		// options; check them once each option is in range.
		ahead := c.NumInFlightAuctions * c.totalProportion() / c.AuctionProportion
		if h := 2 * (ahead*1000/c.EventsPerSecond + 1); h > maxBound {
			bad("numInFlightAuctions", "auctions would last up to %d ms, more than the %d a draw allows at %d eventsPerSecond; lower numInFlightAuctions or raise eventsPerSecond", h, int64(maxBound), c.EventsPerSecond)
		}
		last := int64(maxUnboundedEvent)
		if c.Events > 0 {
			last = c.Events - 1
		}
		if !timestampFits(c.FirstEventTime, last+ahead, c.EventsPerSecond) {
			bad("events", "the dateTime of event %d overflows int64 milliseconds (firstEventTime %d, eventsPerSecond %d)", last+ahead, c.FirstEventTime, c.EventsPerSecond)
		}
	}
	return errors.Join(errs...)
}

// timestampFits reports whether first + floor(n*1000/rate) fits an int64 (and
// is not abi.NoTimestamp).
func timestampFits(first, n, rate int64) bool {
	q := n / rate
	if q > (math.MaxInt64-1000)/1000 {
		return false
	}
	off := q*1000 + (n%rate)*1000/rate
	if first >= 0 {
		return off <= math.MaxInt64-first
	}
	return true
}

// Options are the options of the nexmark source in a job spec: the fields of
// Config, all optional. Pointer fields tell an absent option (the default)
// from an explicit zero.
type Options struct {
	Seed                *uint64         `json:"seed"`
	Events              *int64          `json:"events"`
	Splits              *int            `json:"splits"`
	FirstEventTime      json.RawMessage `json:"firstEventTime"`
	EventsPerSecond     *int64          `json:"eventsPerSecond"`
	RateLimited         *bool           `json:"rateLimited"`
	PersonProportion    *int64          `json:"personProportion"`
	AuctionProportion   *int64          `json:"auctionProportion"`
	BidProportion       *int64          `json:"bidProportion"`
	HotAuctionRatio     *int64          `json:"hotAuctionRatio"`
	HotSellersRatio     *int64          `json:"hotSellersRatio"`
	HotBiddersRatio     *int64          `json:"hotBiddersRatio"`
	NumInFlightAuctions *int64          `json:"numInFlightAuctions"`
	NumActivePeople     *int64          `json:"numActivePeople"`
	AvgPersonByteSize   *int64          `json:"avgPersonByteSize"`
	AvgAuctionByteSize  *int64          `json:"avgAuctionByteSize"`
	AvgBidByteSize      *int64          `json:"avgBidByteSize"`
}

// ParseOptions reads the JSON options of a job spec into a Config: the
// defaults, overridden by the options given. It rejects unknown options, and
// values of the wrong JSON type; Validate checks the ranges.
func ParseOptions(opts json.RawMessage) (Config, error) {
	c := DefaultConfig()
	var o Options
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return c, fmt.Errorf("nexmark source: %w", err)
	}
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	if o.Seed != nil {
		c.Seed = *o.Seed
	}
	if o.Splits != nil {
		c.Splits = *o.Splits
	}
	if o.RateLimited != nil {
		c.RateLimited = *o.RateLimited
	}
	set(&c.Events, o.Events)
	set(&c.EventsPerSecond, o.EventsPerSecond)
	set(&c.PersonProportion, o.PersonProportion)
	set(&c.AuctionProportion, o.AuctionProportion)
	set(&c.BidProportion, o.BidProportion)
	set(&c.HotAuctionRatio, o.HotAuctionRatio)
	set(&c.HotSellersRatio, o.HotSellersRatio)
	set(&c.HotBiddersRatio, o.HotBiddersRatio)
	set(&c.NumInFlightAuctions, o.NumInFlightAuctions)
	set(&c.NumActivePeople, o.NumActivePeople)
	set(&c.AvgPersonByteSize, o.AvgPersonByteSize)
	set(&c.AvgAuctionByteSize, o.AvgAuctionByteSize)
	set(&c.AvgBidByteSize, o.AvgBidByteSize)
	if len(o.FirstEventTime) > 0 {
		ms, err := parseTime(o.FirstEventTime)
		if err != nil {
			return c, fmt.Errorf("nexmark source: option firstEventTime: %w", err)
		}
		c.FirstEventTime = ms
	}
	return c, nil
}

// parseTime reads an integer of ms since the Unix epoch or an RFC 3339 string.
func parseTime(raw json.RawMessage) (int64, error) {
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, fmt.Errorf("%q is not an RFC 3339 time: %v", s, err)
		}
		return t.UnixMilli(), nil
	}
	var ms int64
	if err := json.Unmarshal(raw, &ms); err != nil {
		return 0, fmt.Errorf("%s is not an integer of milliseconds or an RFC 3339 string", raw)
	}
	return ms, nil
}

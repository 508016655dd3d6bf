package nexmark

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/conformance"
)

func mustSource(t testing.TB, opts string) *Source {
	t.Helper()
	s, err := NewSource(json.RawMessage(opts), "")
	if err != nil {
		t.Fatalf("NewSource(%s): %v", opts, err)
	}
	return s.(*Source)
}

func env(c runtime.Clock) runtime.SourceEnv {
	return runtime.SourceEnv{Clock: c, Logger: slog.New(slog.DiscardHandler)}
}

func TestConformance(t *testing.T) {
	for _, opts := range []string{
		`{"events": 3000, "splits": 3}`,
		`{"events": 5, "splits": 8}`, // some splits have no event
		`{"events": 400, "seed": 0, "eventsPerSecond": 1, "firstEventTime": "2020-02-02T00:00:00Z", "avgAuctionByteSize": 0}`,
	} {
		t.Run(opts, func(t *testing.T) {
			conformance.TestSource(t, func(t *testing.T) runtime.Source { return mustSource(t, opts) })
		})
	}
}

type record struct {
	key, value string
	ts         int64
}

func readAll(t *testing.T, s *Source, split string, pos []byte, maxRecords int) []record {
	t.Helper()
	r, err := s.Open(context.Background(), split, pos, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []record
	var w abi.Writer
	for {
		w.Reset()
		_, err := r.Read(context.Background(), &w, maxRecords)
		rd := abi.NewReader(w.Bytes())
		for rd.Next() {
			e := rd.Entry()
			out = append(out, record{string(e.Key), string(e.Value), e.Timestamp})
		}
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSplitsUnion checks that the union of the splits is the generator's
// sequence 0..events-1 whatever the number of splits, each split in order.
func TestSplitsUnion(t *testing.T) {
	const events = 1234
	g := mustSource(t, `{"events": 1234}`).Generator()
	for _, splits := range []int{1, 2, 3, 7, 50} {
		s := mustSource(t, `{"events": 1234, "splits": `+strconv.Itoa(splits)+`}`)
		ids, _ := s.Splits(context.Background())
		got := make([]record, events)
		seen := 0
		for i, id := range ids {
			for k, rec := range readAll(t, s, id, nil, 100) {
				n := int64(i + k*splits)
				if binary.BigEndian.Uint64([]byte(rec.key)) != uint64(n) {
					t.Fatalf("%d splits: split %d record %d has key %x, want event %d", splits, i, k, rec.key, n)
				}
				got[n] = rec
				seen++
			}
		}
		if seen != events {
			t.Fatalf("%d splits: %d records, want %d", splits, seen, events)
		}
		for n := int64(0); n < events; n++ {
			v, ts := g.Event(n)
			if got[n].value != string(v) || got[n].ts != ts {
				t.Fatalf("%d splits: event %d differs from the generator's", splits, n)
			}
		}
	}
}

func TestOpenErrors(t *testing.T) {
	s := mustSource(t, `{"events": 100, "splits": 4}`)
	tests := []struct {
		name, split string
		pos         []byte
		want        string
	}{
		{"unknown split", "nexmark-9-of-4", nil, `split "nexmark-9-of-4" is not one of this source's 4 splits ("nexmark-0-of-4"...)`},
		{"split of another count", "nexmark-1-of-5", nil, "is not one of this source's 4 splits"},
		{"datagen split", "split-0-of-4", nil, "is not one of this source's"},
		{"short position", "nexmark-1-of-4", []byte{1, 2}, "position of 2 bytes, want 8"},
		{"position of another split", "nexmark-1-of-4", binary.BigEndian.AppendUint64(nil, 6), "position 6 is not an event number of this split"},
		{"position past the end", "nexmark-1-of-4", binary.BigEndian.AppendUint64(nil, 201), "position 201 is not an event number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Open(context.Background(), tc.split, tc.pos, env(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name, opts string
		check      func(Config) bool
		want       string // error substring; "" for success
	}{
		{"defaults", ``, func(c Config) bool { return c == DefaultConfig() }, ""},
		{"null", `null`, func(c Config) bool { return c == DefaultConfig() }, ""},
		{"all set", `{"seed": 9, "events": 10, "splits": 2, "firstEventTime": 5, "eventsPerSecond": 7, "rateLimited": true,
			"personProportion": 2, "auctionProportion": 4, "bidProportion": 0, "hotAuctionRatio": 1, "hotSellersRatio": 3,
			"hotBiddersRatio": 5, "numInFlightAuctions": 6, "numActivePeople": 8, "avgPersonByteSize": 11,
			"avgAuctionByteSize": 12, "avgBidByteSize": 13}`, func(c Config) bool {
			return c == Config{Seed: 9, Events: 10, Splits: 2, FirstEventTime: 5, EventsPerSecond: 7, RateLimited: true,
				PersonProportion: 2, AuctionProportion: 4, BidProportion: 0, HotAuctionRatio: 1, HotSellersRatio: 3,
				HotBiddersRatio: 5, NumInFlightAuctions: 6, NumActivePeople: 8, AvgPersonByteSize: 11,
				AvgAuctionByteSize: 12, AvgBidByteSize: 13}
		}, ""},
		{"RFC 3339 time", `{"firstEventTime": "2020-01-01T00:00:01Z"}`, func(c Config) bool { return c.FirstEventTime == 1577836801000 }, ""},
		{"unknown option", `{"events": 1, "rate": 3}`, nil, `unknown field "rate"`},
		{"wrong type", `{"events": "many"}`, nil, "option events: got a JSON string, want an integer"},
		{"bad time", `{"firstEventTime": "yesterday"}`, nil, `option firstEventTime: "yesterday" is not an RFC 3339 time`},
		{"trailing data", `{"events": 1} {}`, nil, "unexpected data after the JSON object"},
		{"inconsistent", `{"personProportion": 0}`, nil, "option personProportion: 0 is less than 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSource(json.RawMessage(tc.opts), "")
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("NewSource: %v, want an error containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c := s.(*Source).Generator().Config(); !tc.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

// TestRateLimit checks the budget of a rate-limited split with a fake clock:
// floor(elapsed * eventsPerSecond / splits) events since Open.
func TestRateLimit(t *testing.T) {
	s := mustSource(t, `{"events": 100000, "splits": 2, "eventsPerSecond": 1000, "rateLimited": true}`)
	clock := runtime.NewManualClock(time.Unix(1000, 0))
	r, err := s.Open(context.Background(), SplitID(0, 2), nil, env(clock))
	if err != nil {
		t.Fatal(err)
	}
	var w abi.Writer
	read := func() int {
		w.Reset()
		n, err := r.Read(context.Background(), &w, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	total := 0
	for _, step := range []struct {
		advance time.Duration
		want    int // the split's events since Open
	}{{0, 0}, {time.Millisecond, 0}, {2 * time.Millisecond, 1}, {time.Second, 501}, {999 * time.Millisecond, 1000}} {
		clock.Advance(step.advance)
		total += read()
		total += read() // a second Read in the same instant adds nothing
		if total != step.want {
			t.Fatalf("after advancing %v: %d events, want %d", step.advance, total, step.want)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	s := mustSource(b, `{"splits": 1}`)
	r, err := s.Open(context.Background(), SplitID(0, 1), nil, env(nil))
	if err != nil {
		b.Fatal(err)
	}
	var w abi.Writer
	const batch = 1024
	b.ReportAllocs()
	for b.Loop() {
		w.Reset()
		if _, err := r.Read(context.Background(), &w, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
	b.ReportMetric(0, "ns/op")
}

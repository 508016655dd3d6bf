package reference

import (
	"fmt"
	"slices"
	"sort"

	"github.com/weirstream/weir/plugins/nexmark"
	"github.com/weirstream/weir/plugins/nexmark/events"
)

// Events are the decoded events of a run, each kind in event order.
type Events struct {
	Persons  []events.Person
	Auctions []events.Auction
	Bids     []events.Bid
}

// Generate decodes the events 0..n-1 of g.
func Generate(g *nexmark.Generator, n int64) (*Events, error) {
	ev := &Events{}
	for i := int64(0); i < n; i++ {
		v, _ := g.Event(i) // a fresh slice per event: the decoded strings may alias it
		var err error
		switch g.Kind(i) {
		case events.KindPerson:
			var p events.Person
			p, err = events.DecodePerson(v)
			ev.Persons = append(ev.Persons, p)
		case events.KindAuction:
			var a events.Auction
			a, err = events.DecodeAuction(v)
			ev.Auctions = append(ev.Auctions, a)
		default:
			var b events.Bid
			b, err = events.DecodeBid(v)
			ev.Bids = append(ev.Bids, b)
		}
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
	}
	return ev, nil
}

// Queries maps each query name to its reference implementation, which
// returns the query's canonical lines, sorted.
var Queries = map[string]func(*Events) []string{
	"q0": Q0, "q1": Q1, "q2": Q2, "q3": Q3, "q4": Q4, "q5": Q5, "q7": Q7, "q8": Q8, "q11": Q11,
}

// Run returns the sorted canonical lines of query over ev, or an error for an
// unknown query.
func Run(query string, ev *Events) ([]string, error) {
	f, ok := Queries[query]
	if !ok {
		return nil, fmt.Errorf("no reference implementation of query %q", query)
	}
	return f(ev), nil
}

func sorted(lines []string) []string {
	sort.Strings(lines)
	return lines
}

func bidLine(b events.Bid, price int64) string {
	return fmt.Sprintf("%d,%d,%d,%d,%s", b.Auction, b.Bidder, price, b.DateTime, b.Extra)
}

// Q0: every bid.
func Q0(ev *Events) []string {
	var out []string
	for _, b := range ev.Bids {
		out = append(out, bidLine(b, b.Price))
	}
	return sorted(out)
}

// Q1: every bid, its price times 0.908, truncated.
func Q1(ev *Events) []string {
	var out []string
	for _, b := range ev.Bids {
		out = append(out, bidLine(b, b.Price*908/1000))
	}
	return sorted(out)
}

// Q2: auction and price of the bids on auctions whose id is a multiple of 123.
func Q2(ev *Events) []string {
	var out []string
	for _, b := range ev.Bids {
		if b.Auction%123 == 0 {
			out = append(out, fmt.Sprintf("%d,%d", b.Auction, b.Price))
		}
	}
	return sorted(out)
}

// Q3: persons of OR, ID or CA joined with the category-10 auctions they sell.
func Q3(ev *Events) []string {
	people := map[int64]events.Person{}
	for _, p := range ev.Persons {
		if s := string(p.State); s == "OR" || s == "ID" || s == "CA" {
			people[p.ID] = p
		}
	}
	var out []string
	for _, a := range ev.Auctions {
		if p, ok := people[a.Seller]; ok && a.Category == 10 {
			out = append(out, fmt.Sprintf("%s,%s,%s,%d", p.Name, p.City, p.State, a.ID))
		}
	}
	return sorted(out)
}

// Q4: per category, at each distinct expiry of its auctions with a winning
// bid, the count, sum and truncated average of the winning prices so far.
func Q4(ev *Events) []string {
	auctions := map[int64]events.Auction{}
	for _, a := range ev.Auctions {
		auctions[a.ID] = a
	}
	best := map[int64]int64{}
	for _, b := range ev.Bids {
		a, ok := auctions[b.Auction]
		if ok && b.DateTime >= a.DateTime && b.DateTime <= a.Expires && b.Price > best[a.ID] {
			best[a.ID] = b.Price
		}
	}
	type closed struct{ expires, price int64 }
	byCategory := map[int64][]closed{}
	for id, price := range best {
		a := auctions[id]
		byCategory[a.Category] = append(byCategory[a.Category], closed{a.Expires, price})
	}
	var out []string
	for cat, cs := range byCategory {
		slices.SortFunc(cs, func(x, y closed) int { return int(x.expires - y.expires) })
		var count, sum int64
		for i, c := range cs {
			count++
			sum += c.price
			if i+1 == len(cs) || cs[i+1].expires != c.expires {
				out = append(out, fmt.Sprintf("%d,%d,%d,%d,%d", cat, c.expires, count, sum, sum/count))
			}
		}
	}
	return sorted(out)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Q5: per 10 s window sliding by 2 s, the auctions with the most bids.
func Q5(ev *Events) []string {
	type wa struct{ start, auction int64 }
	counts := map[wa]int64{}
	for _, b := range ev.Bids {
		// The windows [s, s+10000) with s a multiple of 2000 that hold the bid.
		last := floorDiv(b.DateTime, 2000) * 2000
		for s := last; s > b.DateTime-10000; s -= 2000 {
			counts[wa{s, b.Auction}]++
		}
	}
	top := map[int64]int64{}
	for k, n := range counts {
		top[k.start] = max(top[k.start], n)
	}
	var out []string
	for k, n := range counts {
		if n == top[k.start] {
			out = append(out, fmt.Sprintf("%d,%d,%d,%d", k.start, k.start+10000, k.auction, n))
		}
	}
	return sorted(out)
}

// Q7: per 10 s tumbling window, the bids with the highest price.
func Q7(ev *Events) []string {
	top := map[int64]int64{}
	for _, b := range ev.Bids {
		w := floorDiv(b.DateTime, 10000) * 10000
		top[w] = max(top[w], b.Price)
	}
	var out []string
	for _, b := range ev.Bids {
		w := floorDiv(b.DateTime, 10000) * 10000
		if b.Price == top[w] {
			out = append(out, fmt.Sprintf("%d,%s", w, bidLine(b, b.Price)))
		}
	}
	return sorted(out)
}

// Q8: the persons who sold in the 10 s tumbling window of their registration.
func Q8(ev *Events) []string {
	type sw struct{ seller, window int64 }
	sold := map[sw]bool{}
	for _, a := range ev.Auctions {
		sold[sw{a.Seller, floorDiv(a.DateTime, 10000) * 10000}] = true
	}
	var out []string
	for _, p := range ev.Persons {
		w := floorDiv(p.DateTime, 10000) * 10000
		if sold[sw{p.ID, w}] {
			out = append(out, fmt.Sprintf("%d,%s,%d", p.ID, p.Name, w))
		}
	}
	return sorted(out)
}

// Q11: per bidder, its sessions of bids less than 10 s apart: count, first
// bid, last bid + 10 s.
func Q11(ev *Events) []string {
	times := map[int64][]int64{}
	for _, b := range ev.Bids {
		times[b.Bidder] = append(times[b.Bidder], b.DateTime)
	}
	var out []string
	for bidder, ts := range times {
		slices.Sort(ts)
		start, count := ts[0], int64(0)
		for i, t := range ts {
			count++
			if i+1 == len(ts) || ts[i+1] >= t+10000 {
				out = append(out, fmt.Sprintf("%d,%d,%d,%d", bidder, count, start, t+10000))
				if i+1 < len(ts) {
					start, count = ts[i+1], 0
				}
			}
		}
	}
	return sorted(out)
}

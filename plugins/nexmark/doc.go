// Package nexmark is the Nexmark event generator as a Weir source: people,
// auctions and bids of an online auction site, the standard input of the
// Nexmark streaming benchmark. The generator is specified exactly in
// docs/nexmark.md, so that another implementation (the Flink side of the
// benchmark) produces the same events bit for bit; this package is the
// reference implementation of that document. The composition root registers
// [NewSource] under the kind "nexmark".
//
// # Options
//
//	seed                 unsigned 64-bit seed (default 1)
//	events               number of events; 0 (default): unbounded
//	splits               1..65536 (default 1)
//	firstEventTime       dateTime of event 0: ms since the Unix epoch or an
//	                     RFC 3339 string (default 2025-01-01T00:00:00Z)
//	eventsPerSecond      event-time rate, 1..10^9 (default 10000): event n
//	                     happens at firstEventTime + floor(n*1000/eventsPerSecond)
//	rateLimited          also emit at eventsPerSecond in processing time
//	                     (default false: as fast as possible)
//	personProportion     per 50 events (default 1) persons,
//	auctionProportion    auctions (default 3)
//	bidProportion        and bids (default 46)
//	hotAuctionRatio      a bid is for a hot auction with probability 1-1/ratio (2)
//	hotSellersRatio      an auction has a hot seller with probability 1-1/ratio (4)
//	hotBiddersRatio      a bid has a hot bidder with probability 1-1/ratio (4)
//	numInFlightAuctions  auctions open at a time, roughly (100)
//	numActivePeople      people who sell and bid, besides hot ones (1000)
//	avgPersonByteSize    average size persons are padded to (200)
//	avgAuctionByteSize   the same for auctions (500)
//	avgBidByteSize       the same for bids (100)
//
// An unknown option, a value out of range, or options that contradict each
// other (no people but auctions, auctions that would last longer than a draw
// can express, timestamps that overflow) are errors that name the option.
//
// # Records
//
// Event n is one record: key = n as 8 bytes big-endian, timestamp = the
// event's dateTime, value = the event encoded by package events (a kind byte,
// little-endian integers, length-prefixed strings). Operators decode values
// with package events, which depends on the standard library only so that Wasm
// guests can import it.
//
// # Splits, positions, watermarks
//
// Split s of S ("nexmark-<s>-of-<S>") produces the events n = s, s+S, s+2S,
// ... in that order, so the union of the splits is the whole sequence whatever
// S, and each split's timestamps never decrease: with an out-of-orderness of
// 0 no record is ever late. A position is the split's next event number, 8
// bytes big-endian. With rateLimited, a split opened at t0 (by
// SourceEnv.Clock) has produced at most floor((now-t0)*eventsPerSecond/S)
// events; Read then sleeps at most a millisecond and returns no record.
//
// # Cost
//
// An event costs one SplitMix64 seeding, 5 to 16 draws (a multiply-shift each,
// no division), and the copy of its encoding into the batch: random strings
// are slices of one 64 KiB letter pool rather than built letter by letter.
// Read allocates nothing per event.
package nexmark

// Package q7 is Nexmark query 7, highest bid (docs/nexmark.md §8): for each
// tumbling window of 10 s, the bids with the highest price.
//
// Local (keyed by auction, after bids.ByAuction) keeps each auction's highest
// bids per window and emits them, keyed by the window start, when the
// watermark passes the window's end; Global (keyed by window start) does the
// same over those and emits the window's results.Q7. Both keep, per window,
// the best price and how many bids tie at it, and the tied bids themselves.
package q7

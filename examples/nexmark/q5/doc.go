// Package q5 is Nexmark query 5, hot items (docs/nexmark.md §8): for each
// sliding window of 10 s every 2 s, the auctions with the most bids.
//
// Count (keyed by auction, after bids.ByAuction) counts each auction's bids
// per 2 s pane and, when the watermark passes the end of a window that holds
// one of its panes, emits the window's count keyed by the window start; Hot
// (keyed by window start) keeps the highest count and the auctions that have
// it, and emits them when the watermark passes the window's end.
package q5

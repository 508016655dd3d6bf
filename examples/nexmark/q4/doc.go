// Package q4 is Nexmark query 4, average price per category
// (docs/nexmark.md §8): each auction's winning price (the highest bid between
// its start and its expiry, both included), then per category the running
// average of the winning prices, updated at each close time.
//
// Three operators: Key re-keys auctions by id and bids by auction; Winning
// (keyed by auction) emits each auction's winning price when the watermark
// passes its expiry; Average (keyed by category) folds the winning prices into
// running sums and emits them at each close time.
package q4

// Package bids re-keys the bids of the Nexmark source for the keyed queries:
// ByAuction (q5, q7) and ByBidder (q11) emit every bid, unchanged, keyed by
// its auction or its bidder id, and drop persons and auctions.
package bids

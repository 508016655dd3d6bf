// Package q11 is Nexmark query 11, user sessions (docs/nexmark.md §8): for each
// bidder, the number of bids of each session, a session being the bids that
// follow each other by less than 10 s. Its input is bids.ByBidder's output on
// a keyBy edge.
//
// NB: sessions merge when their windows [t, t+gap) overlap, not when they
// only touch (as Flink's and the SDK's session windows do): a bid exactly one
// gap after a session's last bid starts a new session. That is what makes the
// output independent of arrival order: a session fires when the watermark
// reaches its end - 1, so every bid that could join it has arrived by then,
// whereas a bid at exactly its end may arrive before or after that.
package q11

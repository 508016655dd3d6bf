// Package q2 is Nexmark query 2, selection (docs/nexmark.md §8): the auction and
// price of the bids whose auction id is a multiple of 123.
package q2

// Package q3 is Nexmark query 3, local item suggestion (docs/nexmark.md §8):
// every pair of a person in Oregon, Idaho or California and an auction of
// category 10 that person sells, in whatever order the two arrive.
//
// Filter drops the other events and re-keys persons by their id and auctions
// by their seller; Join, on a keyBy edge, keeps for each person id the person
// (once seen) and the auctions that arrived before it, and emits a
// results.Q3 for each match.
package q3

// Package events is the binary encoding of Nexmark events (docs/nexmark.md §5):
// Person, Auction and Bid, each a record value that starts with a kind byte,
// followed by 64-bit little-endian integers and strings prefixed with their
// 16-bit little-endian length.
//
// It depends on the standard library only, so that Wasm operators (built with
// GOOS=wasip1) import it to decode the records of the Nexmark source, and the
// source (plugins/nexmark) uses it to encode them: one codec on both sides.
//
// Decoding does not copy: the string fields of a decoded event are slices of
// the value it was decoded from, valid as long as that value is. Encoding
// appends to a caller's buffer. Neither allocates.
package events

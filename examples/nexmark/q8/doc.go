// Package q8 is Nexmark query 8, monitor new users (docs/nexmark.md §8): the
// people who opened an auction within the 10 s tumbling window in which they
// registered.
//
// Key re-keys persons by id and auctions by seller; Join (keyed by person id)
// remembers the person's window and name and the windows in which the person
// sold, and emits a results.Q8 when the watermark passes the end of a window
// that has both.
package q8

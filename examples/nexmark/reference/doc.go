// Package reference computes the output of every Nexmark query
// (docs/nexmark.md §8) directly over a list of events, with plain Go maps and
// sorts: no engine, no SDK, no event time, no state. It is the oracle that the
// engine's output is compared with, so it shares nothing with the operators
// but the event decoding, and writes the canonical lines itself.
package reference

// Package q0 is Nexmark query 0, pass-through (docs/nexmark.md §8): every bid,
// unchanged. It measures what the engine costs around an operator that does
// nothing: one Wasm call per batch, the kind byte read, the record copied out.
package q0

// Package results is the encoding of the Nexmark queries' output records
// (docs/nexmark.md §9) and their canonical text (§8): the line two
// implementations must agree on. Like the events of plugins/nexmark/events, a
// result value starts with a kind byte, followed by 64-bit little-endian
// integers and strings prefixed with their 16-bit little-endian length.
//
// It depends on the standard library and the events package only, so that the
// Wasm operators import it (they encode results), and so do the tests and the
// benchmark (they decode them). q0 and q1 output bid events, which FormatText
// renders too.
package results

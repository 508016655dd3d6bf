// Package nexmark is the catalog of Weir's Nexmark queries (docs/nexmark.md
// §8, §10): for each query, its operators in order, each one a Go SDK operator
// that builds to a Wasm module, and how they connect. Tests and the benchmark
// (internal/nexmarkbench) build the query's job from it; the job specs
// q<N>.yaml in this directory describe the same graphs for `weir run`.
//
// # Layout
//
// The operators live in one package per query (q0 ... q11, plus bids for the
// shared re-keying steps and text for the canonical output). Each operator
// has its Wasm main in a directory of its own, examples/nexmark/<stage>/wasm,
// which `make wasm` builds to examples/nexmark/<stage>.wasm, next to the job
// specs that name it. The result records and their canonical text are in
// package results; the events come from plugins/nexmark/events; a plain Go
// implementation of every query over the generated events, without the
// engine, is package reference, which the tests compare the engine's output
// with.
package nexmark

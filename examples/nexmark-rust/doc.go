// Package nexmarkrust holds Nexmark queries q0, q1 and q2 (docs/nexmark.md §8)
// written in Rust against the Weir Rust SDK (sdk/rust), next to the Go SDK
// operators of examples/nexmark: the stateless queries, where the cost of the
// guest language is most of the cost of the job (docs/BENCHMARKS.md). Each
// q<N>/ is a crate built as a cdylib for wasm32-unknown-unknown; bid.rs is the
// bid decoding they share. `make wasm-rust` builds them to q0.wasm, q1.wasm
// and q2.wasm in this directory, which the Nexmark runner takes as its Wasm
// directory:
//
//	make wasm-rust bin/weir-nexmark
//	bin/weir-nexmark -query q1 -events 4000000 -wasm-dir examples/nexmark-rust
//	make bench-nexmark NEXMARK_QUERIES=q0,q1,q2 NEXMARK_WASM_DIR=examples/nexmark-rust
//
// The test builds each crate with rustc, runs it through the engine
// (parallelism 2, checkpoints) and demands the Go reference implementation's
// output, as the Go operators' test does.
package nexmarkrust

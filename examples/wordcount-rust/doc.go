// Package wordcountrust is the word-count example with its operators written
// in Rust against the Weir Rust SDK (sdk/rust): split/ splits lines into
// lower-case words, count/ counts them per word (keyed state and an
// end-of-input timer, or a running count with {"mode": "running"}). Each is a
// crate built as a cdylib for wasm32-unknown-unknown; `make wasm-rust` builds
// them to split.wasm and count.wasm next to job.yaml, which runs them on
// ../wordcount/input.txt. The test builds both with rustc and runs them
// through the real host and engine, alone and next to the Go build of the
// count operator, and checks the same reference output as the Go example.
package wordcountrust

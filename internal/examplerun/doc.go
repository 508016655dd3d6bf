// Package examplerun runs the examples' operators for the examples' tests, in
// every language they are written in:
//
//   - loading: Wasm builds a Go main package, Rust a Rust crate and C a C
//     source (with internal/wasmbuild), and WasmFile loads a .wasm file that
//     is already built; all of them load into one host engine shared by the
//     tests of the process;
//   - one operator: Harness drives an instance of a loaded module with
//     sdk/go/weirtest, as the Go examples' unit tests drive their native
//     build;
//   - a whole job: Run runs a job through the engine on in-memory sources,
//     sinks, state and snapshots.
//
// The reference results that the language variants of an example check
// against are not here: they belong to the Go example they mirror
// (examples/wordcount, examples/windowcount).
package examplerun

// Package windowcountrust is the window-count example with its operator
// written in Rust against the Weir Rust SDK (sdk/rust): window/ counts events
// per user in one-minute tumbling event-time windows (the SDK's WindowState).
// The crate builds as a cdylib for wasm32-unknown-unknown; `make wasm-rust`
// builds it to window.wasm next to job.yaml. The test builds it with rustc and
// runs it through the real host and engine over the deterministic generator,
// and checks the same reference output as the Go example.
package windowcountrust

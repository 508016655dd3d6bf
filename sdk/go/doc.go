// Package weir is the Go SDK for Weir operators: plain Go functions that the
// Weir runtime runs as sandboxed WebAssembly modules (standard Go,
// GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared), or in-process for tests.
//
// An operator is an Operator value: Process runs for each record, OnTimer for
// each fired timer, Init once with the configuration. A Wasm module serves one
// from the init function of its main package:
//
//	package main
//
//	import weir "github.com/weirstream/weir/sdk/go"
//
//	func init() { weir.Serve(myop.Operator) }
//	func main() {}
//
// # What an operator can do
//
// Through the *Context it is handed for each entry, an operator reads the
// entry's key, timestamp, the watermark and processing time; emits records to
// the main output (Emit) or to side outputs 1..255 (EmitTo); sets and deletes
// event-time and processing-time timers for the current key; and logs. Records
// are batched: the host hands over a batch of entries in one call, and what an
// operator emits is handed back in one call per port at the end of it.
//
// Keyed state is declared with package-level handles — ValueState, MapState,
// ListState, ReducingState, AggregatingState — that read and write the state
// of the current entry's key only, through a Codec. WindowState builds
// event-time tumbling, sliding and session windows on state and timers, with
// Flink's semantics (allowed lateness, late records dropped or sent to a side
// output).
//
// # Errors
//
// A Process or OnTimer error fails the batch: the host discards its state
// writes and emits and the job restarts from its last checkpoint. The batch's
// status code is the operator's own (Errorf, 100..65535) or ErrorCode (100);
// a host call that failed with Internal fails the batch with Internal even if
// the operator ignored the error. Host-call failures are *Error values with
// the ABI status Code and the operation.
//
// # Native build
//
// NewNative runs an Operator in-process over a NativeHost, whose method set is
// that of the runtime's Env; package weirtest provides an in-memory one for
// unit tests. Both builds share this package's core (batch decoding, dispatch,
// emit buffers, state encoding); only serve_wasm.go is Wasm-specific, and it is
// the only file that holds package-level state (a module has one instance);
// serve_native.go stands in for it elsewhere.
//
// # The per-record path
//
// Go compiled to Wasm pays for every function call (the Go stack lives in
// linear memory and each call is a resumable state machine) and every memory
// access, and a heap allocation can run the garbage collector inside the
// guest. So the path every record takes is written by hand for it: process
// decodes entries in place and calls Process with no other call on the way;
// Emit appends to the port's buffer inline (outBuf), with no call but the two
// copies; ValueState Get and Set encode the 8-byte codecs inline and call the
// state_get and state_put imports directly rather than through hostABI; and
// none of them allocates once the buffers have grown. The native build shares
// that code (the direct calls are compiled out of it).
//
// The ABI (abi/ABI.md in the Weir repository) is mirrored here, not imported:
// this module depends on the standard library only, and the conformance
// vectors in abi/testdata keep the two in step.
package weir

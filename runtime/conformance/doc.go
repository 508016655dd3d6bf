// Package conformance holds the shared test suites that every implementation of
// a runtime interface must pass: state backends and snapshot stores (state.go,
// store.go), sources and sinks (source.go, sink.go). A plugin's tests call them
// with its own constructor; the in-memory twins in runtime/memory pass them too.
//
// The suites exercise the contracts written on the interfaces in package
// runtime, including the crash cases: a checkpoint that is restored into a fresh
// instance, a sink whose pending work is recovered, a source resumed from a
// position on another reader.
package conformance

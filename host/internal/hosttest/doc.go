// Package hosttest is test support for the Wasm host packages (host and
// host/extism), and nothing else: only their _test.go files import it, and
// no program that Weir ships links it.
//
// Env is the fake runtime.Env their operator tests run guests against: a
// map-backed stand-in for the runtime that scopes state and timers to the key
// of the entry, as the runtime does, collects what the guest emits and logs,
// and fails state and timer calls on demand.
package hosttest

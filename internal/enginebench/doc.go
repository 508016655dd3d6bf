// Package enginebench holds the end-to-end benchmarks of docs/BENCHMARKS.md:
// whole jobs run through the engine with real plugins (the generator, Pebble,
// the local snapshot store) and real Wasm operators built from Go with the SDK,
// next to the native build of the same operators.
//
//	go test -run '^$' -bench . -benchtime 3x ./internal/enginebench/
//
// Each benchmark reports records/s (wall clock) and records per CPU-second
// (user+system time of the whole process), which is the "per core" figure.
package enginebench

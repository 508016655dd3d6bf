// Package conformancetest runs the ABI behaviour vectors
// (abi/testdata/operators) against the Wasm build of the Go SDK's reference
// operators, through the real host (package host): each operator's wasm main
// under sdk/go/internal/conformance is compiled with the standard Go
// toolchain, loaded by a host.Engine and driven by the SDK's weirtest harness,
// whose in-memory host stands in for the runtime's Env.
//
// The SDK checks the same vectors natively (sdk/go/internal/conformance); this
// package closes the loop: the guest exports, the host functions, the cursor,
// status codes and set_error messages as they cross the Wasm boundary.
// guest_test.go adds what the vectors do not cover, with a test guest
// (testdata/sdkguest): a panic's trap reported at the cursor's entry, and
// state_scan chunking through the real host. It has only tests and
// benchmarks (Wasm throughput of the reference operators).
package conformancetest

// Package conformance holds the Go reference operators of the ABI behaviour
// vectors (abi/testdata/operators in the Weir repository), one package each,
// and the test that passes every vector through them natively with weirtest.
//
// Each operator package has a wasm subpackage, a main that serves it, so that
// the host can run the same vectors against the Wasm build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o upper.wasm ./internal/conformance/upper/wasm
//
// The operators are specified in abi/testdata/operators/README.md, so that an
// SDK in another language can implement the same ones and pass the same
// vectors.
package conformance

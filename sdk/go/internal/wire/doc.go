// Package wire is the Go SDK's own rendering of the batch encoding of Weir ABI v1
// (abi/ABI.md §4 in the host repository): constants, a Reader that walks a batch
// without allocating, a Writer that builds one, and Validate, which checks every
// rule of §4.3 the way the host does.
//
// The SDK does not import the host module, so this package repeats the ABI
// constants and layout instead of sharing abi's code. What keeps the two in step
// are the conformance vectors in abi/testdata/batches.json: vectors_test.go
// checks this package against them, and the host's abi package passes the same
// file.
package wire

// Package abi is the contract between the Weir host and its WebAssembly guests:
// the names of the versioned host functions and guest exports, the binary encoding
// of a batch of entries, the status codes and the limits. ABI.md in this directory
// is the normative text; this package is its Go rendering, and testdata holds the
// conformance vectors every guest SDK must pass.
//
// The package depends on the standard library only, so that every other part of
// Weir (host, runtime, plugins) can share one encoding.
//
// A batch is built with a [Writer] and read with a [Reader]:
//
//	var w abi.Writer
//	w.Reset()
//	w.Append(abi.Entry{Key: []byte("k"), Value: []byte("v"), Timestamp: 1000})
//	for r := abi.NewReader(w.Bytes()); r.Next(); {
//		e := r.Entry()
//		_ = e.Key
//	}
package abi

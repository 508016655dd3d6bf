// Command abiv2 is the Go build of the suite's wrong-version case: a module
// for a Weir ABI v2 that does not exist, which exports weir_v2_reserve and
// weir_v2_process instead of the v1 names. The host must refuse to load it.
package main

import "unsafe"

var input []byte

//go:wasmexport weir_v2_reserve
func reserve(size int32) uint32 {
	if cap(input) < int(size) {
		input = make([]byte, size)
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(input[:cap(input)]))))
}

//go:wasmexport weir_v2_process
func process(p, n uint32) uint32 { return 0 }

func main() {}

// Command abifilter is the Weir ABI v1 guest (abi/ABI.md) that runs the same
// operator code as the Extism plugin filter (package evenkeys), for the
// benchmark that compares the two paths. It is written against the raw ABI,
// like host/testdata/guests/echo.
package main

import (
	"unsafe"

	"github.com/weirstream/weir/host/extism/testdata/plugins/evenkeys"
)

//go:wasmimport weir_v1 emit
func emit(port, ptr, n uint32) uint32

var (
	in  []byte // the reserved input buffer
	out []byte // the batch being emitted
)

//go:wasmexport weir_v1_reserve
func reserve(size uint32) uint32 {
	if int(size) > cap(in) {
		in = make([]byte, size)
	}
	in = in[:cap(in)]
	return addr(in)
}

//go:wasmexport weir_v1_process
func process(ptr, n uint32) uint32 {
	var kept int
	out, kept = evenkeys.Apply(out, in[ptr-addr(in):][:n])
	if kept == 0 {
		return 0
	}
	return emit(0, addr(out), uint32(len(out)))
}

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func main() {}

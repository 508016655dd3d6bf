// Command echo is a test guest written against the raw ABI (abi/ABI.md): it
// emits every record of a batch unchanged to the main output, in one emit
// call per batch, and keeps the cursor (§4.4) up to date. With the
// configuration "filter" it keeps only records whose key ends in '0'.
package main

import (
	"encoding/binary"
	"unsafe"
)

//go:wasmimport weir_v1 emit
func emit(port, ptr, n uint32) uint32

var (
	le     = binary.LittleEndian
	in     []byte // the reserved input buffer
	out    []byte // the batch being emitted
	filter bool
)

//go:wasmexport weir_v1_init
func initialize(ptr, n uint32) uint32 {
	filter = n > 0 && string(in[ptr-addr(in):][:n]) == "filter"
	return 0
}

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
	batch := in[ptr-addr(in):][:n]
	count := le.Uint32(batch[4:])
	out = append(out[:0], batch[:32]...)
	le.PutUint64(out[16:], 0) // processing time is 0 in emitted batches
	off, kept := uint32(32), uint32(0)
	for i := uint32(0); i < count; i++ {
		le.PutUint32(batch[24:], i)
		e := batch[off:]
		kl := le.Uint32(e[4:])
		size := 32 + kl + le.Uint32(e[8:]) + le.Uint32(e[12:])
		if !filter || kl > 0 && e[32+kl-1] == '0' {
			out = append(out, e[:size]...)
			kept++
		}
		off += size
	}
	if kept == 0 {
		return 0
	}
	le.PutUint32(out[4:], kept)
	return emit(0, addr(out), uint32(len(out)))
}

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func main() {}

// Command raw is the floor of a Go guest: the ABI exports without the SDK, a
// loop that walks the batch and stores the cursor of each entry.
package main

import (
	"encoding/binary"
	"unsafe"
)

var input []byte

//go:wasmexport weir_v1_reserve
func reserve(size int32) uint32 {
	if cap(input) < int(size) {
		input = make([]byte, size)
	}
	input = input[:cap(input)]
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(input))))
}

// sum keeps the loop's loads from being optimised away.
var sum uint64

// process walks the batch the host wrote at the start of input (p is where
// reserve pointed it).
//
//go:wasmexport weir_v1_process
func process(p, n uint32) uint32 {
	b := input[:n]
	count := binary.LittleEndian.Uint32(b[4:])
	off := 32
	for i := uint32(0); i < count; i++ {
		binary.LittleEndian.PutUint32(b[24:], i)
		h := b[off : off+32]
		kl, vl, hl := int(binary.LittleEndian.Uint32(h[4:])), int(binary.LittleEndian.Uint32(h[8:])), int(binary.LittleEndian.Uint32(h[12:]))
		sum += binary.LittleEndian.Uint64(h[16:]) + uint64(b[off+32+kl])
		off += 32 + kl + vl + hl
	}
	return 0
}

func main() {}

// Command status42 is the Go build of the suite's unknown-status case,
// written against the raw ABI (the SDK only returns codes it defines): it
// emits every record unchanged, and returns status 42, which ABI v1 does not
// define, while processing a record whose key is "poison".
package main

import (
	"encoding/binary"
	"unsafe"
)

//go:wasmimport weir_v1 emit
func emit(port, ptr, n uint32) uint32

//go:wasmimport weir_v1 set_error
func setError(ptr, n uint32)

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

var (
	input []byte
	out   []byte
	msg   = []byte("status 42 on purpose")
)

//go:wasmexport weir_v1_reserve
func reserve(size int32) uint32 {
	if cap(input) < int(size) {
		input = make([]byte, size)
	}
	input = input[:cap(input)]
	return addr(input)
}

// process walks the batch at the start of input, storing the cursor, and
// emits its records to port 0 as they are.
//
//go:wasmexport weir_v1_process
func process(p, n uint32) uint32 {
	le := binary.LittleEndian
	b := input[:n]
	count := le.Uint32(b[4:])
	off := 32
	for i := range count {
		le.PutUint32(b[24:], i)
		kl := int(le.Uint32(b[off+4:]))
		if string(b[off+32:off+32+kl]) == "poison" {
			setError(addr(msg), uint32(len(msg)))
			return 42
		}
		off += 32 + kl + int(le.Uint32(b[off+8:])) + int(le.Uint32(b[off+12:]))
	}
	if count == 0 {
		return 0
	}
	// The input batch is a valid batch of records: emit it as it is, with the
	// header an emitted batch has (no watermark, processing time and cursor 0).
	out = append(out[:0], b...)
	le.PutUint64(out[8:], 1<<63)
	le.PutUint64(out[16:], 0)
	le.PutUint32(out[24:], 0)
	return emit(0, addr(out), uint32(len(out)))
}

func main() {}

// Command oob is the Go build of the suite's out-of-bounds case, written
// against the raw ABI (the SDK never passes a bad pointer). It emits every
// record unchanged, except on two keys:
//
//   - "poison": it calls the host functions with pointer/length pairs outside
//     its memory, one pair at a time, and emits the key with a report of the
//     results ("state_get_name=-3 ..."), then calls log and set_error with
//     messages outside its memory, and returns 0.
//   - "poison-emit": it calls emit with a batch outside its memory and
//     returns 0; the host must fail the batch with OUT_OF_BOUNDS anyway.
package main

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Host functions with every pointer as a plain uint32, so that any address
// can be passed.

//go:wasmimport weir_v1 state_get
func stateGet(entry, namePtr, nameLen, ukeyPtr, ukeyLen, outPtr, outCap uint32) int64

//go:wasmimport weir_v1 state_put
func statePut(entry, namePtr, nameLen, ukeyPtr, ukeyLen, valPtr, valLen uint32) uint32

//go:wasmimport weir_v1 state_delete
func stateDelete(entry, namePtr, nameLen, ukeyPtr, ukeyLen uint32) uint32

//go:wasmimport weir_v1 state_clear
func stateClear(entry, namePtr, nameLen uint32) uint32

//go:wasmimport weir_v1 state_scan
func stateScan(entry, namePtr, nameLen, startPtr, startLen, outPtr, outCap uint32) int64

//go:wasmimport weir_v1 emit
func emit(port, ptr, n uint32) uint32

//go:wasmimport weir_v1 log
func hostLog(level int32, ptr, n uint32)

//go:wasmimport weir_v1 set_error
func setError(ptr, n uint32)

const (
	outside    = 0xfffffff0 // with outsideLen, runs past the 32-bit address space
	outsideLen = 32
	hugeLen    = 0xffffff00 // from a pointer in memory, runs past its end
)

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

var (
	input []byte
	out   []byte
	name  = []byte("s")
	value = []byte("v")
	buf   = make([]byte, 64)
)

//go:wasmexport weir_v1_reserve
func reserve(size int32) uint32 {
	if cap(input) < int(size) {
		input = make([]byte, size)
	}
	input = input[:cap(input)]
	return addr(input)
}

// report makes the out-of-range calls for entry i and returns their results.
func report(i uint32) []byte {
	n, s := addr(name), uint32(len(name))
	r := fmt.Appendf(nil, "state_get_name=%d", stateGet(i, outside, outsideLen, 0, 0, addr(buf), uint32(len(buf))))
	r = fmt.Appendf(r, " state_get_out=%d", stateGet(i, n, s, 0, 0, outside, outsideLen))
	r = fmt.Appendf(r, " state_put_key=%d", statePut(i, n, s, outside, outsideLen, addr(value), 1))
	r = fmt.Appendf(r, " state_put_value=%d", statePut(i, n, s, 0, 0, addr(buf), hugeLen))
	r = fmt.Appendf(r, " state_delete_key=%d", stateDelete(i, n, s, outside, outsideLen))
	r = fmt.Appendf(r, " state_clear_name=%d", stateClear(i, outside, outsideLen))
	r = fmt.Appendf(r, " state_scan_start=%d", stateScan(i, n, s, outside, outsideLen, addr(buf), uint32(len(buf))))
	r = fmt.Appendf(r, " state_scan_out=%d", stateScan(i, n, s, 0, 0, outside, outsideLen))
	hostLog(0, outside, outsideLen)
	setError(outside, outsideLen)
	return r
}

// process walks the batch at the start of input, storing the cursor, and
// emits one batch to port 0.
//
//go:wasmexport weir_v1_process
func process(p, n uint32) uint32 {
	le := binary.LittleEndian
	b := input[:n]
	count := le.Uint32(b[4:])
	out = append(out[:0], b[:32]...)
	le.PutUint64(out[8:], 1<<63) // no watermark
	le.PutUint64(out[16:], 0)
	le.PutUint32(out[24:], 0)
	var entries uint32
	off := 32
	for i := range count {
		le.PutUint32(b[24:], i)
		h := b[off : off+32]
		kl, vl, hl := int(le.Uint32(h[4:])), int(le.Uint32(h[8:])), int(le.Uint32(h[12:]))
		end := off + 32 + kl + vl + hl
		key := b[off+32 : off+32+kl]
		switch string(key) {
		case "poison":
			v := report(i)
			start := len(out)
			out = append(append(append(out, h...), key...), v...)
			le.PutUint32(out[start+8:], uint32(len(v)))
			le.PutUint32(out[start+12:], 0)
			entries++
		case "poison-emit":
			emit(0, outside, outsideLen)
		default:
			out = append(out, b[off:end]...)
			entries++
		}
		off = end
	}
	le.PutUint32(out[4:], entries)
	if entries > 0 {
		if c := emit(0, addr(out), uint32(len(out))); c != 0 {
			return c
		}
	}
	return 0
}

func main() {}

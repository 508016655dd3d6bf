// Command state is a test guest written against the raw ABI (abi/ABI.md) that
// drives the state and timer host functions. Each record's value is a command
// of space-separated words ("-" stands for an empty word); the guest emits one
// record per command, with the record's key and the result as its value:
//
//	put NAME UKEY VALUE    -> put=CODE
//	get NAME UKEY CAP      -> get=RET val=VALUE (VALUE if it was copied)
//	del NAME UKEY          -> del=CODE
//	clear NAME             -> clear=CODE
//	scan NAME START CAP    -> scan=RET written=W more=M pairs=K:V,K:V
//	scanall NAME           -> pairs=N calls=C list=K:V,...  (grows its buffer from 16 bytes)
//	timer KIND TIME        -> timer=CODE
//	untimer KIND TIME      -> untimer=CODE
//	bench N                -> N calls of state_get; bench=RET of the last
package main

import (
	"encoding/binary"
	"strconv"
	"strings"
	"unsafe"
)

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

//go:wasmimport weir_v1 timer_set
func timerSet(entry, kind uint32, time int64) uint32

//go:wasmimport weir_v1 timer_delete
func timerDelete(entry, kind uint32, time int64) uint32

//go:wasmimport weir_v1 emit
func emit(port, ptr, n uint32) uint32

var (
	le  = binary.LittleEndian
	in  []byte
	out []byte
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
	batch := in[ptr-addr(in):][:n]
	count := le.Uint32(batch[4:])
	out = append(out[:0], make([]byte, 32)...)
	le.PutUint32(out, 0x31425257)
	le.PutUint64(out[8:], 1<<63) // no watermark
	off := uint32(32)
	for i := uint32(0); i < count; i++ {
		le.PutUint32(batch[24:], i)
		e := batch[off:]
		kl, vl, hl := le.Uint32(e[4:]), le.Uint32(e[8:]), le.Uint32(e[12:])
		key, val := e[32:32+kl], e[32+kl:32+kl+vl]
		off += 32 + kl + vl + hl
		res := run(i, strings.Fields(string(val)))
		out = appendRecord(out, key, []byte(res))
	}
	le.PutUint32(out[4:], count)
	if count == 0 {
		return 0
	}
	return emit(0, addr(out), uint32(len(out)))
}

func run(entry uint32, w []string) string {
	arg := func(i int) []byte {
		if i >= len(w) || w[i] == "-" {
			return nil
		}
		return []byte(w[i])
	}
	num := func(i int) int64 { n, _ := strconv.ParseInt(string(arg(i)), 10, 64); return n }
	switch w[0] {
	case "put":
		name, ukey, val := arg(1), arg(2), arg(3)
		return "put=" + itoa(int64(statePut(entry, addr(name), size(name), addr(ukey), size(ukey), addr(val), size(val))))
	case "get":
		name, ukey, buf := arg(1), arg(2), make([]byte, num(3))
		ret := stateGet(entry, addr(name), size(name), addr(ukey), size(ukey), addr(buf), size(buf))
		s := "get=" + itoa(ret) + " val="
		if ret >= 0 && ret <= int64(len(buf)) {
			s += string(buf[:ret])
		}
		return s
	case "del":
		name, ukey := arg(1), arg(2)
		return "del=" + itoa(int64(stateDelete(entry, addr(name), size(name), addr(ukey), size(ukey))))
	case "clear":
		name := arg(1)
		return "clear=" + itoa(int64(stateClear(entry, addr(name), size(name))))
	case "scan":
		name, start, buf := arg(1), arg(2), make([]byte, num(3))
		ret := stateScan(entry, addr(name), size(name), addr(start), size(start), addr(buf), size(buf))
		if ret < 0 {
			return "scan=" + itoa(ret)
		}
		written := uint32(ret)
		return "scan=" + itoa(ret) + " written=" + itoa(int64(written)) + " more=" + itoa(ret>>32) + " pairs=" + pairs(buf[:written], nil)
	case "scanall":
		name := arg(1)
		var start []byte
		buf := make([]byte, 16)
		var list []string
		calls := 0
		for {
			calls++
			ret := stateScan(entry, addr(name), size(name), addr(start), size(start), addr(buf), size(buf))
			if ret == -2 { // BUFFER_TOO_SMALL
				buf = make([]byte, 2*len(buf))
				continue
			}
			if ret < 0 {
				return "scanall=" + itoa(ret)
			}
			var last []byte
			pairs(buf[:uint32(ret)], func(k, v []byte) {
				list = append(list, string(k)+":"+string(v))
				last = k
			})
			if ret>>32 == 0 {
				break
			}
			start = append(append([]byte(nil), last...), 0)
		}
		return "pairs=" + itoa(int64(len(list))) + " calls=" + itoa(int64(calls)) + " list=" + strings.Join(list, ",")
	case "timer":
		return "timer=" + itoa(int64(timerSet(entry, uint32(num(1)), num(2))))
	case "untimer":
		return "untimer=" + itoa(int64(timerDelete(entry, uint32(num(1)), num(2))))
	case "bench":
		name, buf := []byte("b"), make([]byte, 64)
		var ret int64
		for n := num(1); n > 0; n-- {
			ret = stateGet(entry, addr(name), size(name), 0, 0, addr(buf), size(buf))
		}
		return "bench=" + itoa(ret)
	}
	return "unknown command " + w[0]
}

// pairs decodes state_scan output, calling fn for each pair if fn is set,
// and returns them as K:V,K:V.
func pairs(b []byte, fn func(k, v []byte)) string {
	var s []string
	for len(b) > 0 {
		kl := le.Uint32(b)
		k := b[4 : 4+kl]
		b = b[4+kl:]
		vl := le.Uint32(b)
		v := b[4 : 4+vl]
		b = b[4+vl:]
		if fn != nil {
			fn(k, v)
		}
		s = append(s, string(k)+":"+string(v))
	}
	return strings.Join(s, ",")
}

func appendRecord(b, key, val []byte) []byte {
	var h [32]byte
	le.PutUint32(h[4:], uint32(len(key)))
	le.PutUint32(h[8:], uint32(len(val)))
	le.PutUint64(h[16:], 1<<63) // no timestamp
	b = append(b, h[:]...)
	b = append(b, key...)
	return append(b, val...)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func size(b []byte) uint32 { return uint32(len(b)) }

func addr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

func main() {}

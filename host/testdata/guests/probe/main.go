// Command probe is a test guest written against the raw ABI (abi/ABI.md) that
// misbehaves on request. Each record's value is a command; a record whose key
// is "poison" makes it panic. Commands:
//
//	ok                  do nothing
//	loop                loop forever
//	spin                loop forever in an empty "for {}"
//	bomb                allocate memory until it runs out
//	alloc MIB           allocate MIB MiB, touch it and let it go
//	exit                call os.Exit(3)
//	oob                 call every host function with pointers outside memory
//	                    and emit "fn=CODE ..." with the codes it got back
//	args                emit "fn=CODE ..." for bad entries, names, kinds, ports, sizes
//	malformed           emit a batch holding a timer entry; return the code
//	bigemit N SIZE      emit N records of SIZE value bytes, one emit each; return the first non-zero code
//	status N MSG...     set_error(MSG) unless MSG is empty, and return N
//	print TEXT...       write TEXT to stdout and TEXT to stderr
//	log LEVEL TEXT...   call log(LEVEL, TEXT)
//	getignore           call state_get, ignore the result and return 0
//	clock               emit "NANOS RANDHEX" read through WASI
//	calls               emit the number of weir_v1_process calls this instance has had
//	init                emit "config=CONFIG get=CODE emit=CODE timer=CODE", what weir_v1_init saw
//	call EP KEY REQ CAP call endpoint EP with idempotency key KEY and request REQ into a
//	                    CAP-byte buffer; emit "n=RESULT status=S body=BODY" (status and
//	                    body only if the response fit) and return 0
//	callbad             emit "case=CODE ..." for calls with bad pointers, names and sizes
package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
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

//go:wasmimport weir_v1 log
func hostLog(level int32, ptr, n uint32)

//go:wasmimport weir_v1 set_error
func setError(ptr, n uint32)

//go:wasmimport weir_v1 call
func call(entry, epPtr, epLen, reqPtr, reqLen, keyPtr, keyLen, outPtr, outCap uint32) int64

var (
	le       = binary.LittleEndian
	in       []byte
	hoard    [][]byte
	spin     uint64
	initSeen string
	calls    int64
)

//go:wasmexport weir_v1_init
func initialize(ptr, n uint32) uint32 {
	var config string
	if n > 0 {
		config = string(in[ptr-addr(in):][:n])
	}
	name, buf := []byte("s"), make([]byte, 8)
	batch := appendRecord(newBatch(), []byte("k"), []byte("v"))
	initSeen = fmt.Sprintf("config=%s get=%d emit=%d timer=%d", config,
		stateGet(0, addr(name), size(name), 0, 0, addr(buf), size(buf)),
		emit(0, addr(batch), size(batch)),
		timerSet(0, 1, 1000))
	if strings.HasPrefix(config, "fail") {
		msg := []byte("cannot use configuration " + strconv.Quote(config))
		setError(addr(msg), size(msg))
		return 101
	}
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
	calls++
	batch := in[ptr-addr(in):][:n]
	count := le.Uint32(batch[4:])
	off := uint32(32)
	for i := uint32(0); i < count; i++ {
		le.PutUint32(batch[24:], i)
		e := batch[off:]
		kl, vl, hl := le.Uint32(e[4:]), le.Uint32(e[8:]), le.Uint32(e[12:])
		key, val := string(e[32:32+kl]), string(e[32+kl:32+kl+vl])
		off += 32 + kl + vl + hl
		if key == "poison" {
			panic("poison record " + strconv.Quote(val))
		}
		if code := run(i, count, strings.Fields(val)); code != 0 {
			return code
		}
	}
	return 0
}

const far = 0xFFFF_FF00 // an address past the end of any memory the tests use

func run(entry, count uint32, w []string) uint32 {
	if len(w) == 0 {
		return 0
	}
	rest := strings.Join(w[1:], " ")
	num := func(i int) int64 { n, _ := strconv.ParseInt(w[i], 10, 64); return n }
	name, buf := []byte("s"), make([]byte, 16)
	switch w[0] {
	case "ok":
	case "loop":
		for {
			spin++
		}
	case "spin":
		for {
		}
	case "bomb":
		for {
			hoard = append(hoard, make([]byte, 1<<20))
		}
	case "alloc":
		b := make([]byte, num(1)<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		hoard = append(hoard, b)
		hoard = nil
	case "exit":
		os.Exit(3)
	case "oob":
		codes := []string{
			"state_get=" + itoa(stateGet(entry, far, 1, 0, 0, addr(buf), size(buf))),
			"state_get_out=" + itoa(stateGet(entry, addr(name), 1, 0, 0, far, 1000)),
			"state_get_ukey=" + itoa(stateGet(entry, addr(name), 1, far, 0x1000, addr(buf), size(buf))),
			"state_put=" + itoa(int64(statePut(entry, addr(name), 1, 0, 0, far, 0x200)))}
		codes = append(codes,
			"state_put_len="+itoa(int64(statePut(entry, addr(name), 1, 0, 0, addr(buf), 0xFFFF_FFFF))),
			"state_delete="+itoa(int64(stateDelete(entry, far, 5, 0, 0))),
			"state_clear="+itoa(int64(stateClear(entry, 0xFFFF_FFFF, 2))),
			"state_scan="+itoa(stateScan(entry, addr(name), 1, far, 3, addr(buf), size(buf))),
			"state_scan_out="+itoa(stateScan(entry, addr(name), 1, 0, 0, far, 0x1000)),
			"emit="+itoa(int64(emit(0, far, 64))),
			"emit_len="+itoa(int64(emit(0, addr(buf), 0x8000_0000))))
		hostLog(0, far, 10)    // must not crash the host
		setError(far, 0x10000) // likewise
		return emitText(strings.Join(codes, " "))
	case "args":
		big := make([]byte, 256)
		bigKey := make([]byte, 64<<10+1)
		codes := []string{
			"bad_entry=" + itoa(stateGet(count, addr(name), 1, 0, 0, addr(buf), size(buf))),
			"empty_name=" + itoa(int64(statePut(entry, 0, 0, 0, 0, 0, 0))),
			"long_name=" + itoa(int64(stateDelete(entry, addr(big), size(big), 0, 0))),
			"long_key=" + itoa(int64(statePut(entry, addr(name), 1, addr(bigKey), size(bigKey), 0, 0))),
			"bad_kind=" + itoa(int64(timerSet(entry, 3, 5))),
			"bad_kind_delete=" + itoa(int64(timerDelete(entry, 0, 5))),
			"timer_bad_entry=" + itoa(int64(timerSet(count+7, 1, 5))),
			"bad_port=" + itoa(int64(emit(256, addr(buf), 0))),
			"get=" + itoa(stateGet(entry, addr(name), 1, 0, 0, addr(buf), size(buf))),
			"timer=" + itoa(int64(timerSet(entry, 2, 5))),
		}
		return emitText(strings.Join(codes, " "))
	case "call":
		ep, key, req := []byte(w[1]), []byte(w[2]), []byte(w[3])
		out := make([]byte, num(4)+1)
		n := call(entry, addr(ep), size(ep), addr(req), size(req), addr(key), size(key), addr(out), uint32(num(4)))
		text := "n=" + itoa(n)
		if n >= 4 && n <= num(4) {
			text += " status=" + itoa(int64(le.Uint32(out))) + " body=" + string(out[4:n])
		}
		return emitText(text)
	case "callbad":
		ep, key, req := []byte("svc"), []byte("k"), []byte("r")
		long, bigKey := make([]byte, 256), make([]byte, 64<<10+1)
		out := make([]byte, 64)
		codes := []string{
			"endpoint_oob=" + itoa(call(entry, far, 3, addr(req), 1, addr(key), 1, addr(out), 64)),
			"request_oob=" + itoa(call(entry, addr(ep), 3, addr(req), 0x8000_0000, addr(key), 1, addr(out), 64)),
			"key_oob=" + itoa(call(entry, addr(ep), 3, addr(req), 1, far, 0x1000, addr(out), 64)),
			"out_oob=" + itoa(call(entry, addr(ep), 3, addr(req), 1, addr(key), 1, far, 0x1000)),
			"bad_entry=" + itoa(call(count, addr(ep), 3, addr(req), 1, addr(key), 1, addr(out), 64)),
			"empty_endpoint=" + itoa(call(entry, addr(ep), 0, addr(req), 1, addr(key), 1, addr(out), 64)),
			"long_endpoint=" + itoa(call(entry, addr(long), 256, addr(req), 1, addr(key), 1, addr(out), 64)),
			"empty_key=" + itoa(call(entry, addr(ep), 3, addr(req), 1, addr(key), 0, addr(out), 64)),
			"long_key=" + itoa(call(entry, addr(ep), 3, addr(req), 1, addr(bigKey), size(bigKey), addr(out), 64)),
		}
		return emitText(strings.Join(codes, " "))
	case "malformed":
		b := appendRecord(newBatch(), []byte("k"), []byte("v"))
		b[32] = 1 // kind: event-time timer
		return emit(0, addr(b), size(b))
	case "bigemit":
		for i := num(1); i > 0; i-- {
			b := appendRecord(newBatch(), []byte("k"), make([]byte, num(2)))
			if code := emit(0, addr(b), size(b)); code != 0 {
				return code
			}
		}
	case "status":
		if rest = strings.Join(w[2:], " "); rest != "" {
			msg := []byte(rest)
			setError(addr(msg), size(msg))
		}
		return uint32(num(1))
	case "print":
		fmt.Println(rest)
		fmt.Fprintln(os.Stderr, rest)
	case "log":
		msg := []byte(strings.Join(w[2:], " "))
		hostLog(int32(num(1)), addr(msg), size(msg))
	case "getignore":
		stateGet(entry, addr(name), size(name), 0, 0, addr(buf), size(buf))
	case "clock":
		r := make([]byte, 8)
		rand.Read(r)
		return emitText(itoa(time.Now().UnixNano()) + " " + hex.EncodeToString(r))
	case "init":
		return emitText(initSeen)
	case "calls":
		return emitText(itoa(calls))
	default:
		return 200
	}
	return 0
}

// emitText emits one record with value text; it returns the emit code.
func emitText(text string) uint32 {
	b := appendRecord(newBatch(), []byte("out"), []byte(text))
	return emit(0, addr(b), size(b))
}

func newBatch() []byte {
	b := make([]byte, 32)
	le.PutUint32(b, 0x31425257)
	le.PutUint64(b[8:], 1<<63)
	return b
}

// appendRecord appends a record and counts it in the batch header.
func appendRecord(b, key, val []byte) []byte {
	var h [32]byte
	le.PutUint32(h[4:], uint32(len(key)))
	le.PutUint32(h[8:], uint32(len(val)))
	le.PutUint64(h[16:], 1<<63)
	b = append(b, h[:]...)
	b = append(b, key...)
	b = append(b, val...)
	le.PutUint32(b[4:], le.Uint32(b[4:])+1)
	return b
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

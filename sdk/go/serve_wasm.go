//go:build wasip1

package weir

import (
	"fmt"
	"unsafe"
)

// This file is the only Wasm-specific part of the SDK: the guest exports of
// ABI §3 and a hostABI over the host functions of ABI §5. A module holds one
// operator instance, so it is the one place with package-level state.

// Host functions (import module weir_v1, ABI §5). Pointers are offsets into
// the module's memory; unsafe.Pointer parameters are passed as i32.

//go:wasmimport weir_v1 state_get
func wasmStateGet(entry uint32, name unsafe.Pointer, nameLen uint32, userKey unsafe.Pointer, userKeyLen uint32, out unsafe.Pointer, outCap uint32) int64

//go:wasmimport weir_v1 state_put
func wasmStatePut(entry uint32, name unsafe.Pointer, nameLen uint32, userKey unsafe.Pointer, userKeyLen uint32, value unsafe.Pointer, valueLen uint32) uint32

//go:wasmimport weir_v1 state_delete
func wasmStateDelete(entry uint32, name unsafe.Pointer, nameLen uint32, userKey unsafe.Pointer, userKeyLen uint32) uint32

//go:wasmimport weir_v1 state_clear
func wasmStateClear(entry uint32, name unsafe.Pointer, nameLen uint32) uint32

//go:wasmimport weir_v1 state_scan
func wasmStateScan(entry uint32, name unsafe.Pointer, nameLen uint32, start unsafe.Pointer, startLen uint32, out unsafe.Pointer, outCap uint32) int64

//go:wasmimport weir_v1 timer_set
func wasmTimerSet(entry uint32, kind uint32, time int64) uint32

//go:wasmimport weir_v1 timer_delete
func wasmTimerDelete(entry uint32, kind uint32, time int64) uint32

//go:wasmimport weir_v1 emit
func wasmEmit(port uint32, batch unsafe.Pointer, batchLen uint32) uint32

//go:wasmimport weir_v1 log
func wasmLog(level int32, msg unsafe.Pointer, msgLen uint32)

//go:wasmimport weir_v1 set_error
func wasmSetError(msg unsafe.Pointer, msgLen uint32)

// NB: a module imports call (ABI 1.1) only if it uses Context.Call: the Go
// linker drops unreferenced imports, so other modules still load on 1.0 hosts.
//
//go:wasmimport weir_v1 call
func wasmCall(entry uint32, endpoint unsafe.Pointer, endpointLen uint32, request unsafe.Pointer, requestLen uint32, key unsafe.Pointer, keyLen uint32, out unsafe.Pointer, outCap uint32) int64

func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func size(b []byte) uint32 { return uint32(len(b)) }

// wasmBuild is true in the Wasm build: the instance a module serves calls the
// hot host functions directly (instance.directCalls).
const wasmBuild = true

// wasmABI is the hostABI of a Wasm module: each method is one host call. The
// hot calls bypass it (instance.directCalls). NB: its methods have pointer
// receivers so that an interface call needs no wrapper.
type wasmABI struct{}

func (*wasmABI) stateGet(entry uint32, name, userKey, out []byte) int64 {
	return wasmStateGet(entry, ptr(name), size(name), ptr(userKey), size(userKey), ptr(out), size(out))
}

func (*wasmABI) statePut(entry uint32, name, userKey, value []byte) Code {
	return Code(wasmStatePut(entry, ptr(name), size(name), ptr(userKey), size(userKey), ptr(value), size(value)))
}

func (*wasmABI) stateDelete(entry uint32, name, userKey []byte) Code {
	return Code(wasmStateDelete(entry, ptr(name), size(name), ptr(userKey), size(userKey)))
}

func (*wasmABI) stateClear(entry uint32, name []byte) Code {
	return Code(wasmStateClear(entry, ptr(name), size(name)))
}

func (*wasmABI) stateScan(entry uint32, name, start, out []byte) int64 {
	return wasmStateScan(entry, ptr(name), size(name), ptr(start), size(start), ptr(out), size(out))
}

func (*wasmABI) timerSet(entry uint32, kind TimerKind, ms int64) Code {
	return Code(wasmTimerSet(entry, uint32(kind), ms))
}

func (*wasmABI) timerDelete(entry uint32, kind TimerKind, ms int64) Code {
	return Code(wasmTimerDelete(entry, uint32(kind), ms))
}

func (*wasmABI) emit(port uint32, batch []byte) Code {
	return Code(wasmEmit(port, ptr(batch), size(batch)))
}

func (*wasmABI) log(level int32, msg []byte) { wasmLog(level, ptr(msg), size(msg)) }

func (*wasmABI) call(entry uint32, endpoint, request, key, out []byte) int64 {
	return wasmCall(entry, ptr(endpoint), size(endpoint), ptr(request), size(request), ptr(key), size(key), ptr(out), size(out))
}

// minReserveBytes is the smallest input buffer weir_v1_reserve hands out.
const minReserveBytes = 64 << 10

var (
	served *instance // the module's one operator instance, set by Serve
	input  []byte    // the buffer weir_v1_reserve returned last
)

// Serve installs op as the operator of this Wasm module, behind the exports
// weir_v1_reserve, weir_v1_process and weir_v1_init. Call it once, from the
// init function of the module's main package; it panics (so the module fails
// to start) if op has no Process function or Serve was called before.
func Serve(op Operator) {
	if err := op.check(); err != nil {
		panic(err.Error())
	}
	if served != nil {
		panic("weir: Serve called twice")
	}
	in := &instance{}
	in.init(op, &wasmABI{}, true, true)
	served = in
}

// reserve returns a buffer of at least size bytes for the host's next input
// (ABI §3). It stays valid until the next call, and is reused while it is big
// enough.
//
//go:wasmexport weir_v1_reserve
func reserve(size int32) uint32 {
	if size < 0 {
		return 0
	}
	if input == nil || cap(input) < int(size) {
		input = make([]byte, max(int(size), minReserveBytes))
	}
	input = input[:cap(input)]
	return uint32(uintptr(ptr(input)))
}

// inputAt returns the bytes [p, p+n) if they lie within the reserved buffer.
// An empty input needs no buffer, so any pointer will do (a host may pass an
// empty configuration without reserving room for it).
func inputAt(p, n uint32) ([]byte, bool) {
	if n == 0 {
		return nil, true
	}
	if input == nil {
		return nil, false
	}
	base := uint32(uintptr(ptr(input)))
	if p < base || uint64(p-base)+uint64(n) > uint64(len(input)) {
		return nil, false
	}
	off := p - base
	return input[off : off+n : off+n], true
}

//go:wasmexport weir_v1_process
func process(p, n uint32) uint32 {
	if served == nil {
		return fail(ErrorCode, "weir.Serve was not called: the module has no operator")
	}
	b, ok := inputAt(p, n)
	if !ok {
		return fail(OutOfBounds, fmt.Sprintf("weir_v1_process: batch [%d, %d+%d) is not within the buffer weir_v1_reserve returned", p, p, n))
	}
	entry, code, err := served.process(b)
	if code == OK {
		return 0
	}
	if entry >= 0 {
		return fail(code, fmt.Sprintf("entry %d: %v", entry, err))
	}
	return fail(code, err.Error())
}

// exportInput returns the input [p, p+n) of export, what the input is: the bytes,
// or the status an export returns when there is no operator or the input is
// not within the reserved buffer.
func exportInput(export, what string, p, n uint32) ([]byte, uint32, bool) {
	if served == nil {
		return nil, fail(ErrorCode, "weir.Serve was not called: the module has no operator"), false
	}
	b, ok := inputAt(p, n)
	if !ok {
		return nil, fail(OutOfBounds, fmt.Sprintf("%s: %s [%d, %d+%d) is not within the buffer weir_v1_reserve returned", export, what, p, p, n)), false
	}
	return b, 0, true
}

//go:wasmexport weir_v1_init
func initialize(p, n uint32) uint32 {
	b, code, ok := exportInput("weir_v1_init", "config", p, n)
	if !ok {
		return code
	}
	if served.op.Init == nil {
		return 0
	}
	if err := served.op.Init(append([]byte(nil), b...)); err != nil {
		return fail(CodeOf(err), "Operator.Init: "+err.Error())
	}
	return 0
}

//go:wasmexport weir_v1_migrate
func migrate(p, n uint32) uint32 {
	b, code, ok := exportInput("weir_v1_migrate", "module id", p, n)
	if !ok {
		return code
	}
	if served.op.Migrate == nil {
		return fail(ErrorCode, "the operator has no migrate step (Operator.Migrate is nil)")
	}
	if err := served.op.Migrate(string(b)); err != nil {
		return fail(CodeOf(err), "Operator.Migrate: "+err.Error())
	}
	return 0
}

// fail hands msg to set_error and returns code, for an export to return.
func fail(code Code, msg string) uint32 {
	b := []byte(msg)
	wasmSetError(ptr(b), size(b))
	return uint32(code)
}

package weir

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
)

// hostABI is the host functions of ABI §5 as the SDK core calls them: the
// guest's pointer/length pairs are slices, and results are exactly the ABI's
// (negative codes in the i64 results of stateGet and stateScan). The Wasm build
// implements it with //go:wasmimport functions; the native build with a
// NativeHost (nativeABI).
type hostABI interface {
	stateGet(entry uint32, name, userKey, out []byte) int64
	statePut(entry uint32, name, userKey, value []byte) Code
	stateDelete(entry uint32, name, userKey []byte) Code
	stateClear(entry uint32, name []byte) Code
	stateScan(entry uint32, name, start, out []byte) int64
	timerSet(entry uint32, kind TimerKind, ms int64) Code
	timerDelete(entry uint32, kind TimerKind, ms int64) Code
	emit(port uint32, batch []byte) Code
	log(level int32, msg []byte)
	call(entry uint32, endpoint, request, key, out []byte) int64
}

// NativeHost is the host side of a native (in-process) call: the host
// functions of ABI §5 with the guest's pointers already turned into slices.
// Its method set is exactly that of the host's runtime.Env, so a runtime.Env
// is a NativeHost without either module importing the other (host/native
// checks it). Every method returns an ABI status code (0 = OK) as a uint32.
//
// A NativeHost is only used during the Native.Process call it was passed to.
// Slices it returns are valid until the next call on it.
type NativeHost interface {
	// StateGet returns the value of user key userKey of state name, for the key
	// of batch entry entry; code is NotFound when there is none.
	StateGet(entry uint32, name, userKey []byte) (value []byte, code uint32)
	StatePut(entry uint32, name, userKey, value []byte) uint32
	StateDelete(entry uint32, name, userKey []byte) uint32
	// StateClear deletes every user key of state name for the entry's key.
	StateClear(entry uint32, name []byte) uint32
	// StateScan calls fn for each user key >= start of state name, for the
	// entry's key, in ascending order, until fn returns false.
	StateScan(entry uint32, name, start []byte, fn func(userKey, value []byte) bool) uint32
	// TimerSet registers a timer of kind (1 event time, 2 processing time) at
	// time ms for the entry's key.
	TimerSet(entry uint32, kind uint32, time int64) uint32
	TimerDelete(entry uint32, kind uint32, time int64) uint32
	// Emit hands an encoded batch of records to output port; the host copies
	// what it keeps.
	Emit(port uint32, batch []byte) uint32
	Log(level int32, msg []byte)
	// Call makes the journaled external call of ABI §5.3 for the entry's key:
	// the response (u32 status, then the body) journaled under idempotency key
	// key, or else the endpoint's, journaled first.
	Call(entry uint32, endpoint, request, key []byte) (response []byte, code uint32)
}

// Native runs an Operator in-process, without Wasm: the same core as the Wasm
// build (batch decoding, dispatch, emit buffers, state encoding) over a
// NativeHost instead of host functions. It is what tests and the host's native
// adapter (host/native) use, and the performance ceiling of the Wasm build.
//
// A Native is one operator instance (subtask): use it from one goroutine at a
// time. Separate Natives of the same Operator may run concurrently.
type Native struct {
	in  instance
	abi nativeABI
}

// NewNative makes an instance of op and runs op.Init with a copy of config.
// It fails if op has no Process function or Init fails (or panics).
func NewNative(op Operator, config []byte) (n *Native, err error) {
	if err := op.check(); err != nil {
		return nil, err
	}
	n = &Native{}
	n.abi.scanFn = n.abi.scanPair
	n.in.init(op, &n.abi, false, false)
	if op.Init != nil {
		defer func() {
			if r := recover(); r != nil {
				n, err = nil, fmt.Errorf("weir: Operator.Init panicked: %v\n%s", r, debug.Stack())
			}
		}()
		if err := op.Init(append([]byte(nil), config...)); err != nil {
			return nil, fmt.Errorf("weir: Operator.Init: %w", err)
		}
	}
	return n, nil
}

// Process runs the encoded batch (ABI §4) through the operator, calling host
// for state, timers, emits and logs; emitted records reach host.Emit, one call
// per port, before Process returns. It returns nil, or a *BatchError that
// names the failed entry and the status code the Wasm build would return for
// it. A panic in the operator is recovered into a *BatchError with Code 0.
// Process does not write the batch (not even the cursor of ABI §4.4), so one
// batch may be handed to several instances at once.
func (n *Native) Process(batch []byte, host NativeHost) (err error) {
	if host == nil {
		return errors.New("weir: Native.Process: nil NativeHost")
	}
	n.abi.h = host
	defer func() {
		n.abi.h = nil
		if r := recover(); r != nil {
			err = &BatchError{Entry: n.in.cur, Code: 0, Err: fmt.Errorf("panic: %v\n%s", r, debug.Stack())}
		}
	}()
	entry, code, err := n.in.process(batch)
	if code != OK {
		return &BatchError{Entry: entry, Code: code, Err: err}
	}
	return nil
}

// nativeABI gives a NativeHost the ABI's calling convention, so that the core
// (and its state_get retry and state_scan chunking) is the same in both builds.
type nativeABI struct {
	h NativeHost
	// scanFn is scanPair bound once, so that a scan does not allocate a closure.
	scanFn func(userKey, value []byte) bool
	// the state of the stateScan in progress
	out      []byte
	written  int
	more     bool
	tooSmall bool
}

func (a *nativeABI) stateGet(entry uint32, name, userKey, out []byte) int64 {
	v, c := a.h.StateGet(entry, name, userKey)
	if c != 0 {
		return -int64(c)
	}
	if len(v) <= len(out) {
		copy(out, v)
	}
	return int64(len(v))
}

func (a *nativeABI) statePut(entry uint32, name, userKey, value []byte) Code {
	return Code(a.h.StatePut(entry, name, userKey, value))
}

func (a *nativeABI) stateDelete(entry uint32, name, userKey []byte) Code {
	return Code(a.h.StateDelete(entry, name, userKey))
}

func (a *nativeABI) stateClear(entry uint32, name []byte) Code {
	return Code(a.h.StateClear(entry, name))
}

// stateScan writes whole pairs into out as ABI §5.1 says state_scan does.
func (a *nativeABI) stateScan(entry uint32, name, start, out []byte) int64 {
	a.out, a.written, a.more, a.tooSmall = out, 0, false, false
	c := a.h.StateScan(entry, name, start, a.scanFn)
	a.out = nil
	switch {
	case c != 0:
		return -int64(c)
	case a.tooSmall:
		return -int64(BufferTooSmall)
	case a.more:
		return int64(a.written) | 1<<32
	}
	return int64(a.written)
}

func (a *nativeABI) scanPair(userKey, value []byte) bool {
	need := 8 + len(userKey) + len(value)
	if need > len(a.out)-a.written {
		a.more = true
		a.tooSmall = a.written == 0
		return false
	}
	b := a.out[a.written:]
	binary.LittleEndian.PutUint32(b, uint32(len(userKey)))
	copy(b[4:], userKey)
	binary.LittleEndian.PutUint32(b[4+len(userKey):], uint32(len(value)))
	copy(b[8+len(userKey):], value)
	a.written += need
	return true
}

func (a *nativeABI) timerSet(entry uint32, kind TimerKind, ms int64) Code {
	return Code(a.h.TimerSet(entry, uint32(kind), ms))
}

func (a *nativeABI) timerDelete(entry uint32, kind TimerKind, ms int64) Code {
	return Code(a.h.TimerDelete(entry, uint32(kind), ms))
}

func (a *nativeABI) emit(port uint32, batch []byte) Code { return Code(a.h.Emit(port, batch)) }

func (a *nativeABI) log(level int32, msg []byte) { a.h.Log(level, msg) }

func (a *nativeABI) call(entry uint32, endpoint, request, key, out []byte) int64 {
	r, c := a.h.Call(entry, endpoint, request, key)
	if c != 0 {
		return -int64(c)
	}
	if len(r) <= len(out) {
		copy(out, r)
	}
	return int64(len(r))
}

package host

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/weirstream/weir/host/internal/guestio"
	"log/slog"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/weirstream/weir/abi"
)

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// hostFunc is one function of the weir_v1 import module (abi/ABI.md §5).
type hostFunc struct {
	name       string
	params     []api.ValueType
	paramNames []string
	results    []api.ValueType
	// run implements the function for the instance making the call; it reads
	// its parameters from stack and writes its result to stack[0].
	run func(in *instance, stack []uint64)
}

// hostFuncs are exactly the functions of abi/ABI.md §5, with their signatures.
// Load checks a module's weir_v1 imports against this table.
var hostFuncs = []hostFunc{
	{abi.FuncStateGet, []api.ValueType{i32, i32, i32, i32, i32, i32, i32},
		[]string{"entry", "name_ptr", "name_len", "ukey_ptr", "ukey_len", "out_ptr", "out_cap"},
		[]api.ValueType{i64}, (*instance).stateGet},
	{abi.FuncStatePut, []api.ValueType{i32, i32, i32, i32, i32, i32, i32},
		[]string{"entry", "name_ptr", "name_len", "ukey_ptr", "ukey_len", "val_ptr", "val_len"},
		[]api.ValueType{i32}, (*instance).statePut},
	{abi.FuncStateDelete, []api.ValueType{i32, i32, i32, i32, i32},
		[]string{"entry", "name_ptr", "name_len", "ukey_ptr", "ukey_len"},
		[]api.ValueType{i32}, (*instance).stateDelete},
	{abi.FuncStateClear, []api.ValueType{i32, i32, i32},
		[]string{"entry", "name_ptr", "name_len"},
		[]api.ValueType{i32}, (*instance).stateClear},
	{abi.FuncStateScan, []api.ValueType{i32, i32, i32, i32, i32, i32, i32},
		[]string{"entry", "name_ptr", "name_len", "start_ptr", "start_len", "out_ptr", "out_cap"},
		[]api.ValueType{i64}, (*instance).stateScan},
	{abi.FuncTimerSet, []api.ValueType{i32, i32, i64},
		[]string{"entry", "kind", "time"},
		[]api.ValueType{i32}, (*instance).timerSet},
	{abi.FuncTimerDelete, []api.ValueType{i32, i32, i64},
		[]string{"entry", "kind", "time"},
		[]api.ValueType{i32}, (*instance).timerDelete},
	{abi.FuncEmit, []api.ValueType{i32, i32, i32},
		[]string{"port", "ptr", "len"},
		[]api.ValueType{i32}, (*instance).emit},
	{abi.FuncLog, []api.ValueType{i32, i32, i32},
		[]string{"level", "ptr", "len"},
		nil, (*instance).log},
	{abi.FuncSetError, []api.ValueType{i32, i32},
		[]string{"ptr", "len"},
		nil, (*instance).setError},
	{abi.FuncCall, []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32, i32},
		[]string{"entry", "endpoint_ptr", "endpoint_len", "request_ptr", "request_len", "key_ptr", "key_len", "out_ptr", "out_cap"},
		[]api.ValueType{i64}, (*instance).externalCall},
}

// hostFuncByName returns the entry of hostFuncs named name.
func hostFuncByName(name string) (hostFunc, bool) {
	for _, f := range hostFuncs {
		if f.name == name {
			return f, true
		}
	}
	return hostFunc{}, false
}

// instanceKey is the context key under which each instance stores itself in
// the context it passes to every call into its guest.
type instanceKey struct{}

// newHostModule builds the weir_v1 module of a wazero runtime. Its functions
// find the calling instance in the call's context: the context is created once
// per instance with the instance as its innermost value, so the lookup is one
// comparison (see BenchmarkHostCall).
func newHostModule(r wazero.Runtime) wazero.HostModuleBuilder {
	b := r.NewHostModuleBuilder(abi.ImportModule)
	for _, f := range hostFuncs {
		run := f.run
		var noInstance uint64 // the result when no instance is calling: NOT_ALLOWED
		if len(f.results) > 0 && f.results[0] == i64 {
			noInstance = negCode(abi.NotAllowed)
		} else {
			noInstance = uint64(abi.NotAllowed)
		}
		hasResult := len(f.results) > 0
		fn := func(ctx context.Context, _ api.Module, stack []uint64) {
			in, _ := ctx.Value(instanceKey{}).(*instance)
			if in == nil {
				if hasResult {
					stack[0] = noInstance
				}
				return
			}
			run(in, stack)
		}
		b = b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(fn), f.params, f.results).
			WithName(f.name).
			WithParameterNames(f.paramNames...).
			Export(f.name)
	}
	return b
}

// negCode is -code as an i64 result of state_get and state_scan.
func negCode(c abi.Code) uint64 { return uint64(-int64(c)) }

// INVARIANT: every host function checks, in this order: that the call is
// allowed (NOT_ALLOWED), the entry index (BAD_ENTRY), that every pointer/length
// pair lies in guest memory (OUT_OF_BOUNDS), then names, kinds and ports
// (BAD_ARGUMENT) and sizes (LIMIT_EXCEEDED), before it calls the Env. Slices of
// guest memory handed to the Env are valid only during that Env call.

// keyedAccess returns the code for a state or timer call on entry.
func (in *instance) keyedAccess(entry uint32) abi.Code {
	switch {
	case in.env == nil || !in.op.info.Keyed:
		return abi.NotAllowed
	case entry >= in.count:
		return abi.BadEntry
	}
	return abi.OK
}

// read returns the guest memory [ptr, ptr+n) without copying.
func (in *instance) read(ptr, n uint32) ([]byte, bool) { return in.mem.Read(ptr, n) }

// nameAndKey reads and checks a state name and a user key; inBounds says
// whether the call's other pointer/length pair lies in guest memory.
func (in *instance) nameAndKey(namePtr, nameLen, keyPtr, keyLen uint32, inBounds bool) (name, key []byte, c abi.Code) {
	name, ok1 := in.read(namePtr, nameLen)
	key, ok2 := in.read(keyPtr, keyLen)
	switch {
	case !ok1 || !ok2 || !inBounds:
		return nil, nil, abi.OutOfBounds
	case nameLen == 0 || nameLen > abi.MaxStateNameBytes:
		return nil, nil, abi.BadArgument
	case int64(keyLen) > int64(in.op.lim.MaxKeyBytes):
		return nil, nil, abi.LimitExceeded
	}
	return name, key, abi.OK
}

// envCode converts a code from the Env, remembering the first INTERNAL so that
// the call fails even if the guest ignores it.
// entry is -1 for a call that has no entry (emit).
func (in *instance) envCode(code uint32, fn string, entry int) abi.Code {
	if abi.Code(code) == abi.Internal && in.internal.fn == "" {
		in.internal.fn, in.internal.entry = fn, entry
	}
	return abi.Code(code)
}

func (in *instance) stateGet(s []uint64) {
	entry := uint32(s[0])
	if c := in.keyedAccess(entry); c != abi.OK {
		s[0] = negCode(c)
		return
	}
	out, ok := in.read(uint32(s[5]), uint32(s[6]))
	name, key, c := in.nameAndKey(uint32(s[1]), uint32(s[2]), uint32(s[3]), uint32(s[4]), ok)
	if c != abi.OK {
		s[0] = negCode(c)
		return
	}
	v, code := in.env.StateGet(entry, name, key)
	if c := in.envCode(code, abi.FuncStateGet, int(entry)); c != abi.OK {
		s[0] = negCode(c)
		return
	}
	if len(v) <= len(out) {
		copy(out, v)
	}
	s[0] = uint64(len(v))
}

func (in *instance) statePut(s []uint64) {
	entry := uint32(s[0])
	if c := in.keyedAccess(entry); c != abi.OK {
		s[0] = uint64(c)
		return
	}
	val, ok := in.read(uint32(s[5]), uint32(s[6]))
	name, key, c := in.nameAndKey(uint32(s[1]), uint32(s[2]), uint32(s[3]), uint32(s[4]), ok)
	if c == abi.OK && len(val) > in.op.lim.MaxValueBytes {
		c = abi.LimitExceeded
	}
	if c == abi.OK {
		c = in.envCode(in.env.StatePut(entry, name, key, val), abi.FuncStatePut, int(entry))
	}
	s[0] = uint64(c)
}

func (in *instance) stateDelete(s []uint64) {
	entry := uint32(s[0])
	c := in.keyedAccess(entry)
	var name, key []byte
	if c == abi.OK {
		name, key, c = in.nameAndKey(uint32(s[1]), uint32(s[2]), uint32(s[3]), uint32(s[4]), true)
	}
	if c == abi.OK {
		c = in.envCode(in.env.StateDelete(entry, name, key), abi.FuncStateDelete, int(entry))
	}
	s[0] = uint64(c)
}

func (in *instance) stateClear(s []uint64) {
	entry := uint32(s[0])
	c := in.keyedAccess(entry)
	var name []byte
	if c == abi.OK {
		name, _, c = in.nameAndKey(uint32(s[1]), uint32(s[2]), 0, 0, true)
	}
	if c == abi.OK {
		c = in.envCode(in.env.StateClear(entry, name), abi.FuncStateClear, int(entry))
	}
	s[0] = uint64(c)
}

// stateScan implements abi/ABI.md §5.1: whole pairs into out, and
// written | more<<32, or -BUFFER_TOO_SMALL when not even one pair fits.
func (in *instance) stateScan(s []uint64) {
	entry := uint32(s[0])
	if c := in.keyedAccess(entry); c != abi.OK {
		s[0] = negCode(c)
		return
	}
	out, ok := in.read(uint32(s[5]), uint32(s[6]))
	name, start, c := in.nameAndKey(uint32(s[1]), uint32(s[2]), uint32(s[3]), uint32(s[4]), ok)
	if c != abi.OK {
		s[0] = negCode(c)
		return
	}
	in.scan.out, in.scan.written, in.scan.more = out, 0, false
	code := in.env.StateScan(entry, name, start, in.scan.fn)
	written, more := in.scan.written, in.scan.more
	in.scan.out = nil
	switch c := in.envCode(code, abi.FuncStateScan, int(entry)); {
	case c != abi.OK:
		s[0] = negCode(c)
	case more && written == 0:
		s[0] = negCode(abi.BufferTooSmall)
	case more:
		s[0] = uint64(written) | 1<<32
	default:
		s[0] = uint64(written)
	}
}

// scanState is the output of the state_scan in progress. fn is bound once per
// instance so that a scan does not allocate a closure.
type scanState struct {
	out     []byte
	written int
	more    bool
	fn      func(userKey, value []byte) bool
}

// scanPair appends one pair to the scan output, or stops the scan with more
// set when it does not fit.
func (in *instance) scanPair(userKey, value []byte) bool {
	sc := &in.scan
	need := 8 + len(userKey) + len(value)
	if need > len(sc.out)-sc.written {
		sc.more = true
		return false
	}
	b := sc.out[sc.written:]
	binary.LittleEndian.PutUint32(b, uint32(len(userKey)))
	n := 4 + copy(b[4:], userKey)
	binary.LittleEndian.PutUint32(b[n:], uint32(len(value)))
	copy(b[n+4:], value)
	sc.written += need
	return true
}

func (in *instance) timerSet(s []uint64) {
	entry, kind := uint32(s[0]), uint32(s[1])
	c := in.timerCheck(entry, kind)
	if c == abi.OK {
		c = in.envCode(in.env.TimerSet(entry, kind, int64(s[2])), abi.FuncTimerSet, int(entry))
	}
	s[0] = uint64(c)
}

func (in *instance) timerDelete(s []uint64) {
	entry, kind := uint32(s[0]), uint32(s[1])
	c := in.timerCheck(entry, kind)
	if c == abi.OK {
		c = in.envCode(in.env.TimerDelete(entry, kind, int64(s[2])), abi.FuncTimerDelete, int(entry))
	}
	s[0] = uint64(c)
}

func (in *instance) timerCheck(entry, kind uint32) abi.Code {
	if c := in.keyedAccess(entry); c != abi.OK {
		return c
	}
	if kind != uint32(abi.KindEventTimer) && kind != uint32(abi.KindProcessingTime) {
		return abi.BadArgument
	}
	return abi.OK
}

// emit validates an emitted batch (abi/ABI.md §4.3) and hands it to the Env.
// The first rejection of a call is kept, to explain the status the guest
// returns.
func (in *instance) emit(s []uint64) {
	port, ptr, n := uint32(s[0]), uint32(s[1]), uint32(s[2])
	if in.env == nil {
		s[0] = uint64(abi.NotAllowed)
		return
	}
	b, ok := in.read(ptr, n)
	switch {
	case !ok:
		in.reject(abi.OutOfBounds, fmt.Errorf("emit to port %d: the batch (ptr %#x, len %d) lies outside guest memory", port, ptr, n))
		s[0] = uint64(abi.OutOfBounds)
		return
	case port > abi.MaxPort:
		in.reject(abi.BadArgument, fmt.Errorf("emit to port %d: ports are 0..%d", port, abi.MaxPort))
		s[0] = uint64(abi.BadArgument)
		return
	case int64(in.emitted)+int64(n) > int64(in.op.lim.MaxEmitBytes):
		in.reject(abi.LimitExceeded, fmt.Errorf("emitting %d more bytes to port %d would exceed the limit of %d emitted bytes per call (%d emitted so far)",
			n, port, in.op.lim.MaxEmitBytes, in.emitted))
		s[0] = uint64(abi.LimitExceeded)
		return
	}
	if err := abi.Validate(b, in.op.module.batchLimits, true); err != nil {
		c := abi.Malformed
		var fe *abi.FormatError
		if errors.As(err, &fe) && fe.Entry >= 0 && (fe.Field == "key" || fe.Field == "value") {
			// NB: abi.Validate reports a key or value over its size limit as a
			// field error; ABI.md §9 gives LIMIT_EXCEEDED for those.
			c = abi.LimitExceeded
		}
		in.reject(c, fmt.Errorf("emit to port %d: %w", port, err))
		s[0] = uint64(c)
		return
	}
	in.emitted += int(n)
	s[0] = uint64(in.envCode(in.env.Emit(port, b), abi.FuncEmit, -1))
}

// reject keeps the first host-side rejection of the call with its reason.
func (in *instance) reject(c abi.Code, err error) {
	if in.rejected.err == nil {
		in.rejected.code, in.rejected.err = c, err
	}
}

// externalCall implements call (abi/ABI.md §5.3). The host checks what it
// can see (pointers, sizes); the Env checks names and keys, consults the
// journal and calls the endpoint. The time spent in the Env does not count
// towards the call time limit: the endpoint's time-out bounds it.
func (in *instance) externalCall(s []uint64) {
	entry := uint32(s[0])
	if c := in.keyedAccess(entry); c != abi.OK {
		s[0] = negCode(c)
		return
	}
	endpoint, ok1 := in.read(uint32(s[1]), uint32(s[2]))
	request, ok2 := in.read(uint32(s[3]), uint32(s[4]))
	key, ok3 := in.read(uint32(s[5]), uint32(s[6]))
	out, ok4 := in.read(uint32(s[7]), uint32(s[8]))
	switch {
	case !ok1 || !ok2 || !ok3 || !ok4:
		s[0] = negCode(abi.OutOfBounds)
		return
	case len(endpoint) == 0 || len(endpoint) > abi.MaxStateNameBytes || len(key) == 0:
		s[0] = negCode(abi.BadArgument)
		return
	case len(key) > in.op.lim.MaxKeyBytes || len(request) > in.op.lim.MaxValueBytes:
		s[0] = negCode(abi.LimitExceeded)
		return
	}
	in.irq.pause()
	resp, code := in.env.Call(entry, endpoint, request, key)
	in.irq.resume()
	if c := in.envCode(code, abi.FuncCall, int(entry)); c != abi.OK {
		s[0] = negCode(c)
		return
	}
	if len(resp) > in.op.lim.MaxValueBytes+abi.CallResponseHeaderBytes {
		s[0] = negCode(abi.LimitExceeded)
		return
	}
	if len(resp) <= len(out) {
		copy(out, resp)
	}
	s[0] = uint64(len(resp))
}

func (in *instance) log(s []uint64) {
	level := slog.Level(int32(s[0]))
	b, ok := in.read(uint32(s[1]), uint32(s[2]))
	if !ok {
		in.out.Logf(slog.LevelWarn, "log", "guest called log with a message outside its memory (ptr %#x, len %d)", uint32(s[1]), uint32(s[2]))
		return
	}
	in.out.Write(level, "log", b)
}

func (in *instance) setError(s []uint64) {
	b, ok := in.read(uint32(s[0]), uint32(s[1]))
	if !ok {
		in.errMsg = fmt.Appendf(in.errMsg[:0], "(set_error with a message outside guest memory: ptr %#x, len %d)", uint32(s[0]), uint32(s[1]))
		return
	}
	in.errMsg = append(in.errMsg[:0], b[:min(len(b), guestio.MaxErrorMessageBytes)]...)
	if len(b) > guestio.MaxErrorMessageBytes {
		in.errMsg = fmt.Appendf(in.errMsg, "... (%d bytes)", len(b))
	}
}

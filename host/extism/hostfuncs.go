package extism

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"

	extsdk "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero/api"

	"github.com/weirstream/weir/abi"
)

// Bounds of weir_v1_state_scan results.
const (
	// defaultScanBytes is the size of a scan result when the plugin passes a
	// max_bytes of 0.
	defaultScanBytes = 1 << 20
	// maxScanBytes bounds max_bytes. A single pair larger than max_bytes is
	// still returned (alone), so a result is at most max(maxScanBytes, one
	// pair) bytes plus its 4-byte header.
	maxScanBytes = 64 << 20
)

// hostFunc is one of Weir's host functions for Extism plugins
// (docs/extism.md). Every parameter and the result is an i64, the one type
// every PDK can pass: byte strings are the offsets of Extism memory blocks.
type hostFunc struct {
	name   string
	params []string
	// neg says that the result is a memory block offset or, if negative,
	// -code; otherwise the result is a status code.
	neg bool
	// run implements the function for the instance making the call and
	// returns its result.
	run func(in *instance, cp *extsdk.CurrentPlugin, s []uint64) int64
}

// hostFuncs are the functions of docs/extism.md, in the order it lists them.
var hostFuncs = []hostFunc{
	{"weir_v1_state_get", []string{"entry", "name", "user_key"}, true, (*instance).stateGet},
	{"weir_v1_state_put", []string{"entry", "name", "user_key", "value"}, false, (*instance).statePut},
	{"weir_v1_state_delete", []string{"entry", "name", "user_key"}, false, (*instance).stateDelete},
	{"weir_v1_state_clear", []string{"entry", "name"}, false, (*instance).stateClear},
	{"weir_v1_state_scan", []string{"entry", "name", "start", "max_bytes"}, true, (*instance).stateScan},
	{"weir_v1_timer_set", []string{"entry", "kind", "time"}, false, (*instance).timerSet},
	{"weir_v1_timer_delete", []string{"entry", "kind", "time"}, false, (*instance).timerDelete},
	{"weir_v1_emit", []string{"port", "batch"}, false, (*instance).emit},
	{"weir_v1_cursor", []string{"entry"}, false, (*instance).setCursor},
	{"weir_v1_log", []string{"level", "message"}, false, (*instance).log},
}

// hostFunctionSignature returns the signature of the host function name.
func hostFunctionSignature(name string) (signature, bool) {
	for _, f := range hostFuncs {
		if f.name == name {
			params := make([]api.ValueType, len(f.params))
			for i := range params {
				params[i] = api.ValueTypeI64
			}
			return signature{Params: params, Results: []api.ValueType{api.ValueTypeI64}}, true
		}
	}
	return signature{}, false
}

// instanceKey is the context key under which Process passes the calling
// instance to the host functions.
type instanceKey struct{}

// hostFunctions returns hostFuncs as go-sdk host functions in HostModule.
// Each finds its instance in the call's context; called from anything but an
// instance's Process, it returns NOT_ALLOWED.
func hostFunctions() []extsdk.HostFunction {
	fs := make([]extsdk.HostFunction, len(hostFuncs))
	for i, f := range hostFuncs {
		params := make([]extsdk.ValueType, len(f.params))
		for j := range params {
			params[j] = extsdk.ValueTypeI64
		}
		run, notAllowed := f.run, result(f.neg, abi.NotAllowed)
		fs[i] = extsdk.NewHostFunctionWithStack(f.name, func(ctx context.Context, cp *extsdk.CurrentPlugin, stack []uint64) {
			in, _ := ctx.Value(instanceKey{}).(*instance)
			if in == nil {
				stack[0] = uint64(notAllowed)
				return
			}
			stack[0] = uint64(run(in, cp, stack))
		}, params, []extsdk.ValueType{extsdk.ValueTypeI64})
		fs[i].SetNamespace(HostModule)
	}
	return fs
}

// result is code c as the result of a function: -c if neg.
func result(neg bool, c abi.Code) int64 {
	if neg {
		return -int64(c)
	}
	return int64(c)
}

// INVARIANT: every host function checks, in this order: that the call is
// allowed (NOT_ALLOWED), the entry index (BAD_ENTRY), that every block offset
// names a block (OUT_OF_BOUNDS), then names, kinds and ports (BAD_ARGUMENT)
// and sizes (LIMIT_EXCEEDED), before it calls the Env. Slices of plugin
// memory handed to the Env are valid only during that Env call.

// block returns the Extism memory block at offset without copying; it is
// valid until the plugin's memory grows. Offset 0 is the empty block (Extism
// allocates nothing for 0 bytes). ok is false when offset names no block.
func block(cp *extsdk.CurrentPlugin, offset uint64) (b []byte, ok bool) {
	if offset == 0 {
		return nil, true
	}
	if offset > math.MaxUint32 {
		return nil, false
	}
	n, err := cp.Length(offset)
	if err != nil || n == 0 {
		return nil, false
	}
	return cp.Memory().Read(uint32(offset), uint32(n))
}

// newBlock copies b into a new Extism memory block and returns its offset (0
// for an empty b); ok is false when the plugin's memory cannot hold it.
func newBlock(cp *extsdk.CurrentPlugin, b []byte) (offset uint64, ok bool) {
	if len(b) == 0 {
		return 0, true
	}
	off, err := cp.Alloc(uint64(len(b)))
	if err != nil || off == 0 || off > math.MaxUint32 {
		return 0, false
	}
	return off, cp.Memory().Write(uint32(off), b)
}

// keyedAccess returns the code for a state or timer call on entry.
func (in *instance) keyedAccess(entry uint64) abi.Code {
	switch {
	case in.env == nil || !in.op.info.Keyed:
		return abi.NotAllowed
	case entry >= uint64(in.count):
		return abi.BadEntry
	}
	return abi.OK
}

// nameAndKey reads and checks a state name and a user key (or scan start).
func (in *instance) nameAndKey(cp *extsdk.CurrentPlugin, nameOff, keyOff uint64) (name, key []byte, c abi.Code) {
	name, ok1 := block(cp, nameOff)
	key, ok2 := block(cp, keyOff)
	switch {
	case !ok1 || !ok2:
		return nil, nil, abi.OutOfBounds
	case len(name) == 0 || len(name) > abi.MaxStateNameBytes:
		return nil, nil, abi.BadArgument
	case len(key) > in.op.lim.MaxKeyBytes:
		return nil, nil, abi.LimitExceeded
	}
	return name, key, abi.OK
}

// envCode converts a code from the Env, remembering the first INTERNAL so that
// the call fails even if the plugin ignores it. entry is -1 for a call that
// has no entry (emit).
func (in *instance) envCode(code uint32, fn string, entry int) abi.Code {
	if abi.Code(code) == abi.Internal && in.internal.fn == "" {
		in.internal.fn, in.internal.entry = fn, entry
	}
	return abi.Code(code)
}

func (in *instance) stateGet(cp *extsdk.CurrentPlugin, s []uint64) int64 {
	entry := s[0]
	if c := in.keyedAccess(entry); c != abi.OK {
		return -int64(c)
	}
	name, key, c := in.nameAndKey(cp, s[1], s[2])
	if c != abi.OK {
		return -int64(c)
	}
	v, code := in.env.StateGet(uint32(entry), name, key)
	if c := in.envCode(code, "weir_v1_state_get", int(entry)); c != abi.OK {
		return -int64(c)
	}
	off, ok := newBlock(cp, v)
	if !ok {
		return -int64(abi.LimitExceeded)
	}
	return int64(off)
}

func (in *instance) statePut(cp *extsdk.CurrentPlugin, s []uint64) int64 {
	entry := s[0]
	if c := in.keyedAccess(entry); c != abi.OK {
		return int64(c)
	}
	val, ok := block(cp, s[3])
	name, key, c := in.nameAndKey(cp, s[1], s[2])
	switch {
	case c != abi.OK:
	case !ok:
		c = abi.OutOfBounds
	case len(val) > in.op.lim.MaxValueBytes:
		c = abi.LimitExceeded
	default:
		c = in.envCode(in.env.StatePut(uint32(entry), name, key, val), "weir_v1_state_put", int(entry))
	}
	return int64(c)
}

func (in *instance) stateDelete(cp *extsdk.CurrentPlugin, s []uint64) int64 {
	entry := s[0]
	c := in.keyedAccess(entry)
	var name, key []byte
	if c == abi.OK {
		name, key, c = in.nameAndKey(cp, s[1], s[2])
	}
	if c == abi.OK {
		c = in.envCode(in.env.StateDelete(uint32(entry), name, key), "weir_v1_state_delete", int(entry))
	}
	return int64(c)
}

func (in *instance) stateClear(cp *extsdk.CurrentPlugin, s []uint64) int64 {
	entry := s[0]
	c := in.keyedAccess(entry)
	var name []byte
	if c == abi.OK {
		name, _, c = in.nameAndKey(cp, s[1], 0)
	}
	if c == abi.OK {
		c = in.envCode(in.env.StateClear(uint32(entry), name), "weir_v1_state_clear", int(entry))
	}
	return int64(c)
}

// stateScan returns a block that starts with a u32 of flags (bit 0: more
// pairs remain) followed by pairs u32 ukey_len, ukey, u32 value_len, value
// (abi/ABI.md §5.1's pair encoding), in ascending order of user key from
// start, as many as fit in max_bytes but at least one if any remain.
func (in *instance) stateScan(cp *extsdk.CurrentPlugin, s []uint64) int64 {
	entry := s[0]
	if c := in.keyedAccess(entry); c != abi.OK {
		return -int64(c)
	}
	name, start, c := in.nameAndKey(cp, s[1], s[2])
	if c != abi.OK {
		return -int64(c)
	}
	limit := s[3]
	if limit == 0 {
		limit = defaultScanBytes
	}
	sc := &in.scan
	sc.buf = append(sc.buf[:0], 0, 0, 0, 0)
	sc.limit, sc.more = int(min(limit, maxScanBytes)), false
	code := in.env.StateScan(uint32(entry), name, start, sc.fn)
	if c := in.envCode(code, "weir_v1_state_scan", int(entry)); c != abi.OK {
		return -int64(c)
	}
	if sc.more {
		sc.buf[0] = 1
	}
	off, ok := newBlock(cp, sc.buf)
	if !ok {
		return -int64(abi.LimitExceeded)
	}
	return int64(off)
}

// scanState is the result of the state scan in progress. fn is bound once
// per instance so that a scan does not allocate a closure.
type scanState struct {
	buf   []byte
	limit int
	more  bool
	fn    func(userKey, value []byte) bool
}

// scanPair appends one pair to the scan result, or stops the scan with more
// set when the result already holds a pair and this one would pass the limit.
func (in *instance) scanPair(userKey, value []byte) bool {
	sc := &in.scan
	need := 8 + len(userKey) + len(value)
	if len(sc.buf) > 4 && len(sc.buf)+need > sc.limit {
		sc.more = true
		return false
	}
	sc.buf = binary.LittleEndian.AppendUint32(sc.buf, uint32(len(userKey)))
	sc.buf = append(sc.buf, userKey...)
	sc.buf = binary.LittleEndian.AppendUint32(sc.buf, uint32(len(value)))
	sc.buf = append(sc.buf, value...)
	return true
}

func (in *instance) timerSet(_ *extsdk.CurrentPlugin, s []uint64) int64 {
	c := in.timerCheck(s[0], s[1])
	if c == abi.OK {
		c = in.envCode(in.env.TimerSet(uint32(s[0]), uint32(s[1]), int64(s[2])), "weir_v1_timer_set", int(s[0]))
	}
	return int64(c)
}

func (in *instance) timerDelete(_ *extsdk.CurrentPlugin, s []uint64) int64 {
	c := in.timerCheck(s[0], s[1])
	if c == abi.OK {
		c = in.envCode(in.env.TimerDelete(uint32(s[0]), uint32(s[1]), int64(s[2])), "weir_v1_timer_delete", int(s[0]))
	}
	return int64(c)
}

func (in *instance) timerCheck(entry, kind uint64) abi.Code {
	if c := in.keyedAccess(entry); c != abi.OK {
		return c
	}
	if kind != uint64(abi.KindEventTimer) && kind != uint64(abi.KindProcessingTime) {
		return abi.BadArgument
	}
	return abi.OK
}

// emit validates an emitted batch (abi/ABI.md §4.3) and hands it to the Env.
// The first rejection of a call is kept: it fails the call even if the
// plugin returns 0, since the records of that emit would be lost otherwise.
func (in *instance) emit(cp *extsdk.CurrentPlugin, s []uint64) int64 {
	port := s[0]
	if in.env == nil {
		return int64(abi.NotAllowed)
	}
	b, ok := block(cp, s[1])
	switch {
	case !ok:
		return int64(in.reject(abi.OutOfBounds, fmt.Errorf("weir_v1_emit to port %d: offset %#x is not an Extism memory block", port, s[1])))
	case port > abi.MaxPort:
		return int64(in.reject(abi.BadArgument, fmt.Errorf("weir_v1_emit to port %d: ports are 0..%d", port, abi.MaxPort)))
	case int64(in.emitted)+int64(len(b)) > int64(in.op.lim.MaxEmitBytes):
		return int64(in.reject(abi.LimitExceeded, fmt.Errorf("emitting %d more bytes to port %d would exceed the limit of %d emitted bytes per call (%d emitted so far)",
			len(b), port, in.op.lim.MaxEmitBytes, in.emitted)))
	}
	if c, err := in.validate(b); err != nil {
		return int64(in.reject(c, fmt.Errorf("weir_v1_emit to port %d: %w", port, err)))
	}
	in.emitted += len(b)
	return int64(in.envCode(in.env.Emit(uint32(port), b), "weir_v1_emit", -1))
}

// validate checks an emitted batch and returns the code for its error:
// LIMIT_EXCEEDED for a key or value over its limit (abi/ABI.md §9), else
// MALFORMED.
func (in *instance) validate(b []byte) (abi.Code, error) {
	err := abi.Validate(b, in.op.plugin.batchLimits, true)
	if err == nil {
		return abi.OK, nil
	}
	var fe *abi.FormatError
	if errors.As(err, &fe) && fe.Entry >= 0 && (fe.Field == "key" || fe.Field == "value") {
		return abi.LimitExceeded, err
	}
	return abi.Malformed, err
}

// reject keeps the first rejection of the call with its reason and returns c.
func (in *instance) reject(c abi.Code, err error) abi.Code {
	if in.rejected.err == nil {
		in.rejected.code, in.rejected.err = c, err
	}
	return c
}

// setCursor records the entry the plugin is working on, which the errors of
// the call name (abi/ABI.md §4.4).
func (in *instance) setCursor(_ *extsdk.CurrentPlugin, s []uint64) int64 {
	switch {
	case in.env == nil:
		return int64(abi.NotAllowed)
	case s[0] >= uint64(in.count):
		return int64(abi.BadEntry)
	}
	in.cursor = int(s[0])
	return int64(abi.OK)
}

func (in *instance) log(cp *extsdk.CurrentPlugin, s []uint64) int64 {
	level := slog.Level(int32(max(min(int64(s[0]), math.MaxInt32), math.MinInt32)))
	b, ok := block(cp, s[1])
	if !ok {
		in.out.Write(slog.LevelWarn, "log", fmt.Appendf(nil, "the plugin called weir_v1_log with offset %#x, which is not an Extism memory block", s[1]))
		return int64(abi.OutOfBounds)
	}
	in.out.Write(level, "log", b)
	return int64(abi.OK)
}

package weir

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/weirstream/weir/sdk/go/internal/wire"
)

// Operator is a user operator: three functions the SDK calls for the entries of
// each batch. Build one as a package-level value and hand it to Serve (Wasm) or
// NewNative (in-process):
//
//	var Operator = weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
//		ctx.Emit(weir.Record{Key: r.Key, Value: bytes.ToUpper(r.Value)})
//		return nil
//	}}
//
// The functions run on one goroutine per instance, one entry at a time; several
// instances (subtasks) may run the same Operator concurrently, so an Operator
// must not keep per-instance data in package variables: keep it in state.
type Operator struct {
	// Init, if set, runs once per instance before the first batch, with the
	// operator's configuration (the job spec's config as JSON; may be empty).
	// The slice is the operator's to keep. An error fails the instance.
	Init func(config []byte) error
	// Migrate, if set, is the module's migrate step: when a running job swaps
	// an operator to this module and asks to migrate, it runs once on each new
	// instance with the id (sha256 digest) of the module it replaces, before
	// any record; an error refuses the swap and the job keeps the old module.
	// It sees no state: the host keeps the state as it is (see abi/ABI.md §3).
	Migrate func(from string) error
	// Process runs for each record. It is required.
	Process func(ctx *Context, r Record) error
	// OnTimer runs for each fired timer. It is required once the operator sets
	// timers (directly or through a window): a timer that fires when OnTimer is
	// nil fails the batch.
	OnTimer func(ctx *Context, t Timer) error
}

func (op *Operator) check() error {
	if op.Process == nil {
		return errors.New("weir: Operator.Process is nil")
	}
	return nil
}

// flushBytes is the size in bytes past which the records emitted to one port
// are handed to the host before the end of the batch.
const flushBytes = 1 << 20

// maxRetainedOutBytes bounds, in bytes, the output buffer a port keeps between
// batches; a bigger one (after huge records) is dropped after its flush.
const maxRetainedOutBytes = 4 * flushBytes

// le is the byte order of every integer of the batch encoding (ABI §1).
var le = binary.LittleEndian

// instance is the per-instance core shared by the Wasm and the native build: it
// decodes batches, dispatches entries to the Operator, buffers emitted records
// per port and talks to the host through hostABI. Nothing in it is global.
//
// NB: the per-entry path (process, Context.Emit, ValueState.Get and Set) is
// written for the Wasm build, where each function call costs tens of
// nanoseconds: it decodes entries and appends emitted records inline rather
// than through helpers, makes no allocation, and in the Wasm build calls the
// host functions directly rather than through hostABI (see directCalls).
type instance struct {
	op   Operator
	host hostABI
	// directCalls makes the hot host calls (state_get, state_put) call the
	// Wasm imports directly instead of through host. Only the instance that a
	// Wasm module serves sets it; it is never set in a native build.
	directCalls bool
	// writeCursor makes process store the entry index in the batch header
	// (ABI §4.4). Only the Wasm build does: there the batch is the guest's own
	// buffer, while a native caller may share one batch between instances.
	writeCursor bool
	// cursorScratch takes the entry index process would store in the batch
	// header when writeCursor is false.
	cursorScratch [4]byte

	ctx Context
	cur int // index of the entry being processed; -1 outside one

	// outs are the per-port output buffers, created on first use; out0 is
	// outs[0] (nil until port 0 is used), for Context.Emit.
	outs []*outBuf
	out0 *outBuf

	emitErr     error // first failed Emit of the batch
	internalErr error // first host call of the batch that returned Internal

	state stateScratch
}

func (in *instance) init(op Operator, host hostABI, directCalls, writeCursor bool) {
	in.op, in.host, in.directCalls, in.writeCursor = op, host, directCalls && wasmBuild, writeCursor
	in.ctx.in = in
	in.cur = -1
	in.state.get = make([]byte, initialGetBytes)
}

// process runs the batch b and returns OK, or the index of the failed entry
// (-1 if none), the status code and the cause.
//
// It decodes each entry in place (the layout of ABI §4.2, as wire.Reader
// reads it) and calls the Operator once per entry with no other call on the
// way: a malformed batch is handed to wire.Reader only to say what is wrong.
func (in *instance) process(b []byte) (entry int, code Code, err error) {
	in.beginBatch()
	if len(b) < wire.BatchHeaderSize || le.Uint32(b) != wire.Magic {
		return -1, Malformed, malformedBatch(b)
	}
	c := &in.ctx
	c.watermark, c.processingTime = int64(le.Uint64(b[8:16])), int64(le.Uint64(b[16:24]))
	n := le.Uint32(b[4:8])
	processFn := in.op.Process
	// NB: written so that the compiler proves every index in bounds: rest is
	// the batch after the entries decoded so far, and each part of an entry
	// is resliced off it after one explicit length check.
	rest := b[wire.BatchHeaderSize:]
	// cursor is where the entry index goes: the batch header's cursor field,
	// or scratch space, so that the loop stores it without a branch.
	cursor := &in.cursorScratch
	if in.writeCursor {
		cursor = (*[4]byte)(b[wire.OffCursor : wire.OffCursor+4])
	}
	for i := uint32(0); i < n; i++ {
		if len(rest) < wire.EntryHeaderSize {
			return -1, Malformed, malformedBatch(b)
		}
		h := (*[wire.EntryHeaderSize]byte)(rest)
		rest = rest[wire.EntryHeaderSize:]
		kl, vl, hl := uint(le.Uint32(h[4:8])), uint(le.Uint32(h[8:12])), uint(le.Uint32(h[12:16]))
		if kl > uint(len(rest)) {
			return -1, Malformed, malformedBatch(b)
		}
		key := rest[:kl:kl]
		rest = rest[kl:]
		if vl > uint(len(rest)) {
			return -1, Malformed, malformedBatch(b)
		}
		value := rest[:vl:vl]
		rest = rest[vl:]
		if hl > uint(len(rest)) {
			return -1, Malformed, malformedBatch(b)
		}
		headers := rest[:hl:hl]
		rest = rest[hl:]
		in.cur = int(i)
		le.PutUint32(cursor[:], i)
		ts, tid := int64(le.Uint64(h[16:24])), le.Uint64(h[24:32])
		c.entry, c.key, c.timestamp, c.trackingID = i, key, ts, tid
		var err error
		switch kind := h[0]; kind {
		case wire.KindRecord:
			err = processFn(c, Record{Key: key, Value: value, Timestamp: ts, TrackingID: tid, Headers: headers})
		case wire.KindEventTimer, wire.KindProcessingTimer:
			err = in.fire(c, TimerKind(kind), ts, key)
		default:
			return int(i), Malformed, fmt.Errorf("input batch: unknown entry kind %d", kind)
		}
		if err != nil || in.emitErr != nil || in.internalErr != nil {
			if code, err := in.outcome(err); code != OK {
				return int(i), code, err
			}
		}
	}
	in.cur = -1
	err = in.flushAll()
	if code, err := in.outcome(err); code != OK {
		return -1, code, err
	}
	return -1, OK, nil
}

// malformedBatch returns the error of an input batch that process could not
// decode, with wire.Reader's account of what is wrong and where.
func malformedBatch(b []byte) error {
	var r wire.Reader
	if err := r.Reset(b); err != nil {
		return fmt.Errorf("input batch: %w", err)
	}
	for r.Next() {
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("input batch: %w", err)
	}
	return errors.New("input batch: malformed")
}

// fire runs OnTimer for a timer entry.
func (in *instance) fire(c *Context, kind TimerKind, time int64, key []byte) error {
	if in.op.OnTimer == nil {
		return fmt.Errorf("a %s timer at %d fired but Operator.OnTimer is nil", kind, time)
	}
	return in.op.OnTimer(c, Timer{Kind: kind, Time: time, Key: key})
}

// outcome turns what an entry's callback returned, together with the failures
// the SDK recorded during it, into a status code: a host call that returned
// Internal fails the batch with Internal even if the operator ignored it; a
// failed Emit fails it as if the operator had returned the error.
func (in *instance) outcome(err error) (Code, error) {
	if in.internalErr != nil {
		if err != nil && !errors.Is(err, in.internalErr) {
			return Internal, fmt.Errorf("%w (and then: %v)", in.internalErr, err)
		}
		return Internal, in.internalErr
	}
	if err == nil {
		err = in.emitErr
	}
	return CodeOf(err), err
}

func (in *instance) beginBatch() {
	in.emitErr, in.internalErr = nil, nil
	in.cur = -1
	// A failed batch may have left records behind: they must not leak into
	// this one.
	for _, o := range in.outs {
		if o != nil && o.count != 0 {
			o.reset()
		}
	}
}

// hostFailed records a host call that returned c and returns its error.
func (in *instance) hostFailed(c Code, op string, name []byte) error {
	err := hostError(c, op, name)
	if c == Internal && in.internalErr == nil {
		in.internalErr = err
	}
	return err
}

// flush hands port's buffered records to the host in one emit call.
func (in *instance) flush(port int) error {
	o := in.outs[port]
	c := in.host.emit(uint32(port), o.bytes())
	if cap(o.buf) > maxRetainedOutBytes {
		o.buf = nil
	}
	o.reset()
	if c != OK {
		return in.hostFailed(c, fmt.Sprintf("emit to port %d", port), nil)
	}
	return nil
}

// flushAll flushes every port with buffered records, in port order.
func (in *instance) flushAll() error {
	var first error
	for port, o := range in.outs {
		if o == nil || o.count == 0 {
			continue
		}
		if err := in.flush(port); err != nil && first == nil {
			first = err
		}
	}
	return first
}

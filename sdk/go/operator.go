package weir

import (
	"errors"
	"fmt"
	"math/bits"

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

// instance is the per-instance core shared by the Wasm and the native build: it
// decodes batches, dispatches entries to the Operator, buffers emitted records
// per port and talks to the host through hostABI. Nothing in it is global.
type instance struct {
	op   Operator
	host hostABI
	// writeCursor makes process store the entry index in the batch header
	// (ABI §4.4). Only the Wasm build does: there the batch is the guest's own
	// buffer, while a native caller may share one batch between instances.
	writeCursor bool

	ctx Context
	rd  wire.Reader
	cur int // index of the entry being processed; -1 outside one

	outs  []*wire.Writer // per port, created on first use
	dirty [(MaxPort + 1) / 64]uint64

	emitErr     error // first failed Emit of the batch
	internalErr error // first host call of the batch that returned Internal

	state stateScratch
}

func (in *instance) init(op Operator, host hostABI, writeCursor bool) {
	in.op, in.host, in.writeCursor = op, host, writeCursor
	in.ctx.in = in
	in.cur = -1
	in.state.get = make([]byte, initialGetBytes)
}

// process runs the batch b and returns OK, or the index of the failed entry
// (-1 if none), the status code and the cause.
func (in *instance) process(b []byte) (entry int, code Code, err error) {
	in.beginBatch()
	if err := in.rd.Reset(b); err != nil {
		return -1, Malformed, fmt.Errorf("input batch: %w", err)
	}
	c := &in.ctx
	h := in.rd.Header()
	c.watermark, c.processingTime = h.Watermark, h.ProcessingTime
	for in.rd.Next() {
		i := in.rd.Index()
		in.cur = i
		if in.writeCursor {
			wire.SetCursor(b, uint32(i))
		}
		e := in.rd.Entry()
		c.entry, c.key, c.timestamp, c.trackingID = uint32(i), e.Key, e.Timestamp, e.TrackingID
		var err error
		switch e.Kind {
		case wire.KindRecord:
			err = in.op.Process(c, Record{Key: e.Key, Value: e.Value, Timestamp: e.Timestamp, TrackingID: e.TrackingID, Headers: e.Headers})
		case wire.KindEventTimer, wire.KindProcessingTimer:
			if in.op.OnTimer == nil {
				err = fmt.Errorf("a %s timer at %d fired but Operator.OnTimer is nil", TimerKind(e.Kind), e.Timestamp)
				break
			}
			err = in.op.OnTimer(c, Timer{Kind: TimerKind(e.Kind), Time: e.Timestamp, Key: e.Key})
		default:
			return i, Malformed, fmt.Errorf("input batch: unknown entry kind %d", e.Kind)
		}
		if code, err := in.outcome(err); code != OK {
			return i, code, err
		}
	}
	in.cur = -1
	if err := in.rd.Err(); err != nil {
		return -1, Malformed, fmt.Errorf("input batch: %w", err)
	}
	err = in.flushAll()
	if code, err := in.outcome(err); code != OK {
		return -1, code, err
	}
	return -1, OK, nil
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
	for i, w := range in.dirty {
		for w != 0 {
			bit := bits.TrailingZeros64(w)
			w &^= 1 << bit
			in.outs[i*64+bit].Reset()
		}
		in.dirty[i] = 0
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

// emit appends r to port's buffer, flushing it once it passes flushBytes.
func (in *instance) emit(port int, r *Record) {
	if in.emitErr != nil {
		return
	}
	switch {
	case port < 0 || port > MaxPort:
		in.emitErr = &Error{Code: BadArgument, Op: "emit", Err: fmt.Errorf("port %d is outside 0..%d", port, MaxPort)}
		return
	case len(r.Key) > MaxKeyBytes:
		in.emitErr = &Error{Code: LimitExceeded, Op: "emit", Err: fmt.Errorf("record key of %d bytes is over the limit of %d", len(r.Key), MaxKeyBytes)}
		return
	case len(r.Value) > MaxValueBytes:
		in.emitErr = &Error{Code: LimitExceeded, Op: "emit", Err: fmt.Errorf("record value of %d bytes is over the limit of %d", len(r.Value), MaxValueBytes)}
		return
	}
	if len(r.Headers) != 0 {
		if err := wire.CheckHeaders(r.Headers); err != nil {
			in.emitErr = &Error{Code: Malformed, Op: "emit", Err: fmt.Errorf("record headers: %w", err)}
			return
		}
	}
	for len(in.outs) <= port {
		in.outs = append(in.outs, nil)
	}
	w := in.outs[port]
	if w == nil {
		w = new(wire.Writer)
		w.Reset()
		in.outs[port] = w
	}
	w.Append(wire.KindRecord, r.Key, r.Value, r.Headers, r.Timestamp, r.TrackingID)
	in.dirty[port/64] |= 1 << (port % 64)
	if w.Size() >= flushBytes {
		if err := in.flush(port); err != nil {
			in.emitErr = err
		}
	}
}

// flush hands port's buffered records to the host in one emit call.
func (in *instance) flush(port int) error {
	w := in.outs[port]
	in.dirty[port/64] &^= 1 << (port % 64)
	c := in.host.emit(uint32(port), w.Bytes())
	if w.Cap() > maxRetainedOutBytes {
		w.Release()
	}
	w.Reset()
	if c != OK {
		return in.hostFailed(c, fmt.Sprintf("emit to port %d", port), nil)
	}
	return nil
}

// flushAll flushes every port with buffered records, in port order.
func (in *instance) flushAll() error {
	var first error
	for i := range in.dirty {
		for in.dirty[i] != 0 {
			if err := in.flush(i*64 + bits.TrailingZeros64(in.dirty[i])); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

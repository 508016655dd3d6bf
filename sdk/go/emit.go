package weir

import (
	"fmt"

	"github.com/weirstream/weir/sdk/go/internal/wire"
)

// initialOutBytes is the first size, in bytes, of a port's output buffer.
const initialOutBytes = 4 << 10

// outBuf is the batch of records emitted to one port, encoded as ABI §4 in
// place: a batch header, then the entries appended so far. buf is always used
// at its full length (it is zeroed when made); n is the number of bytes in use.
type outBuf struct {
	buf   []byte
	n     int
	count uint32
}

// reset empties o and writes a fresh batch header: no watermark, processing
// time 0, cursor 0 (as wire.Writer does).
func (o *outBuf) reset() {
	if len(o.buf) < initialOutBytes {
		o.buf = make([]byte, initialOutBytes)
	}
	h := o.buf[:wire.BatchHeaderSize]
	clear(h)
	le.PutUint32(h[0:4], wire.Magic)
	noWatermark := wire.NoTimestamp
	le.PutUint64(h[8:16], uint64(noWatermark))
	o.n, o.count = wire.BatchHeaderSize, 0
}

// bytes returns the encoded batch; it aliases o until the next change.
func (o *outBuf) bytes() []byte {
	le.PutUint32(o.buf[4:8], o.count)
	return o.buf[:o.n]
}

// put appends a record entry of key, value, ts and tid, without headers. The
// caller has checked that it fits: need = EntryHeaderSize + len(key) +
// len(value) <= len(buf) - n.
func (o *outBuf) put(key, value []byte, ts int64, tid uint64, need int) {
	e := o.buf[o.n : o.n+need]
	h := (*[wire.EntryHeaderSize]byte)(e[:wire.EntryHeaderSize])
	le.PutUint32(h[0:4], 0) // kind 0 (record) and reserved bytes
	le.PutUint32(h[4:8], uint32(len(key)))
	le.PutUint32(h[8:12], uint32(len(value)))
	le.PutUint32(h[12:16], 0) // no headers
	le.PutUint64(h[16:24], uint64(ts))
	le.PutUint64(h[24:32], tid)
	copy(e[wire.EntryHeaderSize:], key)
	copy(e[wire.EntryHeaderSize+len(key):], value)
	o.n += need
	o.count++
}

// Emit sends r to the main output (port 0). See EmitTo.
func (c *Context) Emit(r Record) {
	in := c.in
	o := in.out0
	if o == nil || in.emitErr != nil || len(r.Headers) != 0 || len(r.Key) > MaxKeyBytes ||
		len(r.Value) > MaxValueBytes || uint(o.n) > uint(len(o.buf)) {
		in.emitSlow(0, &r, c)
		return
	}
	// NB: outBuf.put by hand (the compiler does not inline it), so that Emit
	// makes no call of its own, and written so that the compiler proves every
	// index in bounds: free and d are resliced once, after the checks above.
	free := o.buf[o.n:]
	need := wire.EntryHeaderSize + len(r.Key) + len(r.Value)
	if need > len(free) {
		in.emitSlow(0, &r, c)
		return
	}
	if r.Timestamp == 0 {
		r.Timestamp = c.timestamp
	}
	if r.TrackingID == 0 {
		r.TrackingID = c.trackingID
	}
	h := (*[wire.EntryHeaderSize]byte)(free)
	le.PutUint32(h[0:4], 0)
	le.PutUint32(h[4:8], uint32(len(r.Key)))
	le.PutUint32(h[8:12], uint32(len(r.Value)))
	le.PutUint32(h[12:16], 0)
	le.PutUint64(h[16:24], uint64(r.Timestamp))
	le.PutUint64(h[24:32], r.TrackingID)
	o.n += need
	o.count++
	d := free[wire.EntryHeaderSize:need]
	copy(d[copy(d, r.Key):], r.Value)
	if o.n >= flushBytes {
		in.flushFull(0)
	}
}

// EmitTo sends r to output port: 0 is the main output, 1..MaxPort are side
// outputs that a job wires by port number.
//
// Two fields inherit from the entry being processed when they are zero:
//   - Timestamp 0 takes the entry's timestamp (a record's event time, a
//     timer's time, or a window's MaxTimestamp while it emits), as in Flink.
//     Set NoTimestamp for a record without event time, or any other value to
//     set it explicitly; a record cannot be stamped exactly 0 (the epoch)
//     except by inheriting it.
//   - TrackingID 0 takes the entry's tracking id, so that the acknowledgement
//     of an input message waits for the records derived from it.
//
// Emit copies r into a per-port buffer that is handed to the host in one call
// at the end of the batch (or once it passes 1 MiB), so it does no host call
// and, in the steady state, no allocation. It returns nothing: a record that
// cannot be emitted (bad port, key or value over the limits of ABI §9,
// malformed headers) or a buffer the host rejects fails the batch, as if
// Process had returned the error, once the current callback returns.
func (c *Context) EmitTo(port int, r Record) {
	in := c.in
	var o *outBuf
	if uint(port) < uint(len(in.outs)) {
		o = in.outs[port]
	}
	need := wire.EntryHeaderSize + len(r.Key) + len(r.Value)
	if o == nil || in.emitErr != nil || len(r.Headers) != 0 || len(r.Key) > MaxKeyBytes ||
		len(r.Value) > MaxValueBytes || need > len(o.buf)-o.n {
		in.emitSlow(port, &r, c)
		return
	}
	if r.Timestamp == 0 {
		r.Timestamp = c.timestamp
	}
	if r.TrackingID == 0 {
		r.TrackingID = c.trackingID
	}
	o.put(r.Key, r.Value, r.Timestamp, r.TrackingID, need)
	if o.n >= flushBytes {
		in.flushFull(port)
	}
}

// emitSlow is Emit for what its fast path leaves out: the first record of a
// port, a full buffer, headers, and records that cannot be emitted.
func (in *instance) emitSlow(port int, r *Record, c *Context) {
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
	o := in.outs[port]
	if o == nil {
		o = new(outBuf)
		o.reset()
		in.outs[port] = o
		if port == 0 {
			in.out0 = o
		}
	}
	need := wire.EntryHeaderSize + len(r.Key) + len(r.Value) + len(r.Headers)
	if need > len(o.buf)-o.n {
		nb := make([]byte, max(2*len(o.buf), o.n+need))
		copy(nb, o.buf[:o.n])
		o.buf = nb
	}
	ts, tid := r.Timestamp, r.TrackingID
	if ts == 0 {
		ts = c.timestamp
	}
	if tid == 0 {
		tid = c.trackingID
	}
	o.put(r.Key, r.Value, ts, tid, need-len(r.Headers))
	if len(r.Headers) != 0 {
		e := o.buf[o.n-len(r.Key)-len(r.Value)-wire.EntryHeaderSize:]
		le.PutUint32(e[12:16], uint32(len(r.Headers)))
		o.n += copy(o.buf[o.n:], r.Headers)
	}
	if o.n >= flushBytes {
		in.flushFull(port)
	}
}

// flushFull flushes port, whose buffer passed flushBytes, within the batch.
func (in *instance) flushFull(port int) {
	if err := in.flush(port); err != nil {
		in.emitErr = err
	}
}

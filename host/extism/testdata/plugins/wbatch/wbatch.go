// Package wbatch reads and writes Weir batches (abi/ABI.md §4) in plugin code,
// the way a plugin author in any language would: fixed little-endian headers,
// no dependency. The Extism test plugins use it for their input and output.
package wbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
)

var le = binary.LittleEndian

// Sizes and values of the encoding.
const (
	HeaderSize      = 32
	EntryHeaderSize = 32
	Magic           = 0x31425257 // "WRB1"
)

// Entry kinds.
const (
	KindRecord         = 0
	KindEventTimer     = 1
	KindProcessingTime = 2
)

// NoTimestamp marks a record without event time (INT64_MIN).
const NoTimestamp = -1 << 63

// Entry is one entry of a batch; its slices alias the batch.
type Entry struct {
	Kind       uint8
	Key        []byte
	Value      []byte
	Headers    []byte
	Timestamp  int64
	TrackingID uint64
}

// Reader walks the entries of a batch.
type Reader struct {
	b     []byte
	off   int
	left  uint32
	index int
	e     Entry
	err   error
}

// NewReader checks the batch header of b and returns a Reader of its entries.
func NewReader(b []byte) (*Reader, error) {
	if len(b) < HeaderSize {
		return nil, fmt.Errorf("batch of %d bytes is shorter than its header", len(b))
	}
	if m := le.Uint32(b); m != Magic {
		return nil, fmt.Errorf("batch magic %#x, want %#x", m, Magic)
	}
	return &Reader{b: b, off: HeaderSize, left: le.Uint32(b[4:]), index: -1}, nil
}

// Watermark returns the watermark of the batch header.
func (r *Reader) Watermark() int64 { return int64(le.Uint64(r.b[8:])) }

// Next advances to the next entry and reports whether there is one.
func (r *Reader) Next() bool {
	if r.left == 0 || r.err != nil {
		return false
	}
	if len(r.b)-r.off < EntryHeaderSize {
		r.err = errors.New("truncated entry header")
		return false
	}
	h := r.b[r.off:]
	kl, vl, hl := int(le.Uint32(h[4:])), int(le.Uint32(h[8:])), int(le.Uint32(h[12:]))
	end := r.off + EntryHeaderSize + kl + vl + hl
	if kl < 0 || vl < 0 || hl < 0 || end > len(r.b) || end < r.off {
		r.err = errors.New("entry runs past the batch")
		return false
	}
	p := r.off + EntryHeaderSize
	r.e = Entry{
		Kind:       h[0],
		Key:        r.b[p : p+kl : p+kl],
		Value:      r.b[p+kl : p+kl+vl : p+kl+vl],
		Headers:    r.b[p+kl+vl : end : end],
		Timestamp:  int64(le.Uint64(h[16:])),
		TrackingID: le.Uint64(h[24:]),
	}
	r.off = end
	r.left--
	r.index++
	return true
}

// Entry returns the current entry.
func (r *Reader) Entry() *Entry { return &r.e }

// Index returns the index of the current entry in the batch.
func (r *Reader) Index() int { return r.index }

// Err returns what stopped Next early, if anything.
func (r *Reader) Err() error { return r.err }

// Writer builds a batch of records.
type Writer struct {
	buf []byte
}

// Reset empties w and writes a header with no watermark.
func (w *Writer) Reset() {
	w.buf = append(w.buf[:0], make([]byte, HeaderSize)...)
	le.PutUint32(w.buf, Magic)
	le.PutUint64(w.buf[8:], 1<<63) // INT64_MIN: no watermark
}

// Append adds a record.
func (w *Writer) Append(key, value []byte, timestamp int64, trackingID uint64) {
	if len(w.buf) == 0 {
		w.Reset()
	}
	var h [EntryHeaderSize]byte
	le.PutUint32(h[4:], uint32(len(key)))
	le.PutUint32(h[8:], uint32(len(value)))
	le.PutUint64(h[16:], uint64(timestamp))
	le.PutUint64(h[24:], trackingID)
	w.buf = append(w.buf, h[:]...)
	w.buf = append(w.buf, key...)
	w.buf = append(w.buf, value...)
	le.PutUint32(w.buf[4:], le.Uint32(w.buf[4:])+1)
}

// Count returns the number of records appended since Reset.
func (w *Writer) Count() int {
	if len(w.buf) == 0 {
		return 0
	}
	return int(le.Uint32(w.buf[4:]))
}

// Bytes returns the batch; it aliases w until the next Reset.
func (w *Writer) Bytes() []byte {
	if len(w.buf) == 0 {
		w.Reset()
	}
	return w.buf
}

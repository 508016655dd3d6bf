package wire

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Sizes and fixed values of the encoding (ABI §4).
const (
	BatchHeaderSize = 32
	EntryHeaderSize = 32
	// Magic starts every batch: the bytes "WRB1" read as a little-endian u32.
	Magic uint32 = 0x31425257
	// OffCursor is the offset in the batch header where a guest stores the index
	// of the entry it works on (ABI §4.4).
	OffCursor = 24
)

const (
	offMagic          = 0
	offCount          = 4
	offWatermark      = 8
	offProcessingTime = 16
	offReserved       = 28
)

// Entry kinds (ABI §4.2).
const (
	KindRecord          uint8 = 0
	KindEventTimer      uint8 = 1
	KindProcessingTimer uint8 = 2
)

// Limits of ABI §9, in bytes unless named otherwise.
const (
	MaxKeyBytes       = 64 << 10
	MaxValueBytes     = 16 << 20
	MaxEmitBytes      = 64 << 20
	MaxStateNameBytes = 255
	MaxPort           = 255
	// MaxBatchEntries bounds the entry count Validate accepts, as the host does.
	MaxBatchEntries = 1 << 20
)

// NoTimestamp (INT64_MIN) marks a record without event time, or no watermark yet.
const NoTimestamp int64 = math.MinInt64

var le = binary.LittleEndian

// Entry is one entry of a batch. The slices of an Entry returned by a Reader
// alias the batch and have their capacity cut to their length, so appending to
// one copies instead of overwriting the batch.
type Entry struct {
	Kind       uint8
	Key        []byte
	Value      []byte
	Headers    []byte // encoded headers (ABI §4.2)
	Timestamp  int64
	TrackingID uint64
}

// FormatError says what is wrong with an encoded batch and where. Entry is the
// index of the entry, or -1 for the batch header; Field names the field with
// the same words as the host's abi.FormatError ("header", "magic", "count",
// "length", "kind", "reserved", "key", "value", "headers").
type FormatError struct {
	Entry int
	Field string
	Msg   string
}

func (e *FormatError) Error() string {
	if e.Entry < 0 {
		return fmt.Sprintf("malformed batch: %s: %s", e.Field, e.Msg)
	}
	return fmt.Sprintf("malformed batch: entry %d: %s: %s", e.Entry, e.Field, e.Msg)
}

// Header is the decoded batch header.
type Header struct {
	Count          uint32
	Watermark      int64
	ProcessingTime int64
	Cursor         uint32
}

// ReadHeader decodes the header of batch b, checking its length and magic.
func ReadHeader(b []byte) (Header, error) {
	if len(b) < BatchHeaderSize {
		return Header{}, &FormatError{Entry: -1, Field: "header", Msg: fmt.Sprintf("batch of %d bytes is shorter than the %d-byte header", len(b), BatchHeaderSize)}
	}
	if m := le.Uint32(b[offMagic:]); m != Magic {
		return Header{}, &FormatError{Entry: -1, Field: "magic", Msg: fmt.Sprintf("got %#x, want %#x", m, Magic)}
	}
	return Header{
		Count:          le.Uint32(b[offCount:]),
		Watermark:      int64(le.Uint64(b[offWatermark:])),
		ProcessingTime: int64(le.Uint64(b[offProcessingTime:])),
		Cursor:         le.Uint32(b[OffCursor:]),
	}, nil
}

// SetCursor stores i in the cursor field of the batch header of b (ABI §4.4).
func SetCursor(b []byte, i uint32) { le.PutUint32(b[OffCursor:], i) }

// Reader walks the entries of a batch without copying or allocating. It checks
// bounds as it goes, so a malformed batch ends the walk with an error rather
// than a panic. The zero Reader has no entries; use Reset.
type Reader struct {
	b    []byte
	off  int
	n, i uint32
	e    Entry
	err  error
	hdr  Header
}

// Reset makes r walk batch b from its first entry and returns the header
// error, if any (then Next reports no entry).
func (r *Reader) Reset(b []byte) error {
	*r = Reader{b: b, off: BatchHeaderSize}
	r.hdr, r.err = ReadHeader(b)
	if r.err == nil {
		r.n = r.hdr.Count
	}
	return r.err
}

// Header returns the batch header read by Reset.
func (r *Reader) Header() Header { return r.hdr }

// Next advances to the next entry and reports whether there is one. It returns
// false at the end of the batch or on a malformed entry (then Err is not nil).
func (r *Reader) Next() bool {
	if r.err != nil || r.i >= r.n {
		return false
	}
	b := r.b
	if len(b)-r.off < EntryHeaderSize {
		r.err = &FormatError{Entry: int(r.i), Field: "header", Msg: fmt.Sprintf("entry header at byte %d runs past the batch end (%d bytes)", r.off, len(b))}
		return false
	}
	h := b[r.off : r.off+EntryHeaderSize]
	kl, vl, hl := uint64(le.Uint32(h[4:])), uint64(le.Uint32(h[8:])), uint64(le.Uint32(h[12:]))
	end := uint64(r.off) + EntryHeaderSize + kl + vl + hl
	if end > uint64(len(b)) {
		r.err = &FormatError{Entry: int(r.i), Field: "length", Msg: fmt.Sprintf("key %d + value %d + headers %d bytes at byte %d run past the batch end (%d bytes)", kl, vl, hl, r.off, len(b))}
		return false
	}
	p := r.off + EntryHeaderSize
	k, v := p+int(kl), p+int(kl+vl)
	r.e = Entry{
		Kind:       h[0],
		Key:        b[p:k:k],
		Value:      b[k:v:v],
		Headers:    b[v:int(end):int(end)],
		Timestamp:  int64(le.Uint64(h[16:])),
		TrackingID: le.Uint64(h[24:]),
	}
	r.off = int(end)
	r.i++
	return true
}

// Entry returns the current entry; its slices alias the batch.
func (r *Reader) Entry() *Entry { return &r.e }

// Index returns the index of the current entry.
func (r *Reader) Index() int { return int(r.i) - 1 }

// Err returns the error that stopped the walk, if any.
func (r *Reader) Err() error { return r.err }

// Validate checks every rule of ABI §4.3 on b, as the host does, and returns a
// *FormatError for the first violation. If recordsOnly, every entry must be a
// record, as in a batch a guest emits.
func Validate(b []byte, recordsOnly bool) error {
	var r Reader
	if err := r.Reset(b); err != nil {
		return err
	}
	if r.n > MaxBatchEntries {
		return &FormatError{Entry: -1, Field: "count", Msg: fmt.Sprintf("%d entries is more than the limit of %d", r.n, MaxBatchEntries)}
	}
	for r.Next() {
		i, e := r.Index(), &r.e
		h := b[r.off-EntryHeaderSize-len(e.Key)-len(e.Value)-len(e.Headers):]
		switch {
		case e.Kind > KindProcessingTimer:
			return &FormatError{Entry: i, Field: "kind", Msg: fmt.Sprintf("unknown kind %d", e.Kind)}
		case recordsOnly && e.Kind != KindRecord:
			return &FormatError{Entry: i, Field: "kind", Msg: fmt.Sprintf("kind %d in an emitted batch; only records (kind 0) may be emitted", e.Kind)}
		case h[1] != 0 || h[2] != 0 || h[3] != 0:
			return &FormatError{Entry: i, Field: "reserved", Msg: "reserved bytes 1..3 are not zero"}
		case len(e.Key) > MaxKeyBytes:
			return &FormatError{Entry: i, Field: "key", Msg: fmt.Sprintf("%d bytes is more than the limit of %d", len(e.Key), MaxKeyBytes)}
		case len(e.Value) > MaxValueBytes:
			return &FormatError{Entry: i, Field: "value", Msg: fmt.Sprintf("%d bytes is more than the limit of %d", len(e.Value), MaxValueBytes)}
		}
		if err := CheckHeaders(e.Headers); err != nil {
			return &FormatError{Entry: i, Field: "headers", Msg: err.Error()}
		}
	}
	if r.err != nil {
		return r.err
	}
	if r.off != len(b) {
		return &FormatError{Entry: -1, Field: "count", Msg: fmt.Sprintf("%d entries end at byte %d but the batch has %d bytes", r.n, r.off, len(b))}
	}
	if le.Uint32(b[offReserved:]) != 0 {
		return &FormatError{Entry: -1, Field: "reserved", Msg: "reserved header field at byte 28 is not zero"}
	}
	return nil
}

// Writer builds a batch. The zero value is an empty batch with no watermark.
// A Writer is not safe for concurrent use.
type Writer struct {
	buf   []byte
	count uint32
}

// Reset empties w, keeping its buffer, and writes a fresh header: no
// watermark, processing time 0, cursor 0.
func (w *Writer) Reset() {
	if cap(w.buf) < BatchHeaderSize {
		w.buf = make([]byte, BatchHeaderSize, 4096)
	}
	w.buf = w.buf[:BatchHeaderSize]
	clear(w.buf)
	le.PutUint32(w.buf[offMagic:], Magic)
	putI64(w.buf[offWatermark:], NoTimestamp)
	w.count = 0
}

// Release gives up w's buffer; w is empty afterwards.
func (w *Writer) Release() { w.buf, w.count = nil, 0 }

// Cap returns the capacity of w's buffer in bytes.
func (w *Writer) Cap() int { return cap(w.buf) }

// SetWatermark sets the watermark of the batch header.
func (w *Writer) SetWatermark(ms int64) {
	if w.buf == nil {
		w.Reset()
	}
	putI64(w.buf[offWatermark:], ms)
}

// SetProcessingTime sets the processing time of the batch header.
func (w *Writer) SetProcessingTime(ms int64) {
	if w.buf == nil {
		w.Reset()
	}
	putI64(w.buf[offProcessingTime:], ms)
}

// Append adds one entry to the batch. It does not check limits; Validate does.
func (w *Writer) Append(kind uint8, key, value, headers []byte, timestamp int64, trackingID uint64) {
	if w.buf == nil {
		w.Reset()
	}
	off := len(w.buf)
	n := EntryHeaderSize + len(key) + len(value) + len(headers)
	if cap(w.buf)-off < n {
		nb := make([]byte, off, 2*cap(w.buf)+n)
		copy(nb, w.buf)
		w.buf = nb
	}
	w.buf = w.buf[:off+EntryHeaderSize]
	h := w.buf[off:]
	h[0], h[1], h[2], h[3] = kind, 0, 0, 0
	le.PutUint32(h[4:], uint32(len(key)))
	le.PutUint32(h[8:], uint32(len(value)))
	le.PutUint32(h[12:], uint32(len(headers)))
	putI64(h[16:], timestamp)
	le.PutUint64(h[24:], trackingID)
	w.buf = append(w.buf, key...)
	w.buf = append(w.buf, value...)
	w.buf = append(w.buf, headers...)
	w.count++
}

// Count returns the number of entries appended since Reset.
func (w *Writer) Count() int { return int(w.count) }

// Size returns the encoded size of the batch in bytes.
func (w *Writer) Size() int {
	if w.buf == nil {
		return BatchHeaderSize
	}
	return len(w.buf)
}

// Bytes returns the encoded batch. It aliases w's buffer until the next change.
func (w *Writer) Bytes() []byte {
	if w.buf == nil {
		w.Reset()
	}
	le.PutUint32(w.buf[offCount:], w.count)
	return w.buf
}

// AppendHeader appends one encoded header (name, value) to dst (ABI §4.2).
func AppendHeader(dst []byte, name, value []byte) []byte {
	dst = le.AppendUint32(dst, uint32(len(name)))
	dst = append(dst, name...)
	dst = le.AppendUint32(dst, uint32(len(value)))
	return append(dst, value...)
}

// NextHeader splits the first header off the encoded headers h. It returns
// ok=false with a nil error at the end of h, and an error if h is malformed.
func NextHeader(h []byte) (name, value, rest []byte, ok bool, err error) {
	if len(h) == 0 {
		return nil, nil, nil, false, nil
	}
	var field [2][]byte
	for i := range field {
		if len(h) < 4 {
			return nil, nil, nil, false, fmt.Errorf("truncated length prefix")
		}
		n := uint64(le.Uint32(h))
		if n > uint64(len(h)-4) {
			return nil, nil, nil, false, fmt.Errorf("length %d runs past the end (%d bytes left)", n, len(h)-4)
		}
		field[i], h = h[4:4+n:4+n], h[4+n:]
	}
	return field[0], field[1], h, true, nil
}

// CheckHeaders reports whether the encoded headers h parse and fill h exactly.
func CheckHeaders(h []byte) error {
	for {
		var ok bool
		var err error
		if _, _, h, ok, err = NextHeader(h); !ok {
			return err
		}
	}
}

func putI64(b []byte, v int64) { le.PutUint64(b, uint64(v)) }

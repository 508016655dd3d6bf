package abi

import (
	"encoding/binary"
	"fmt"
)

// Sizes of the fixed parts of the encoding (ABI.md §4).
const (
	BatchHeaderSize = 32
	EntryHeaderSize = 32
	// Magic starts every batch: the bytes "WRB1" read as a little-endian u32.
	Magic uint32 = 0x31425257
)

// Offsets of batch header fields (ABI.md §4.1).
const (
	offMagic          = 0
	offCount          = 4
	offWatermark      = 8
	offProcessingTime = 16
	// OffCursor is where a guest stores the index of the entry it works on.
	OffCursor   = 24
	offReserved = 28
)

var le = binary.LittleEndian

// Entry is one decoded batch entry. Its slices alias the batch it was read from.
type Entry struct {
	Kind       Kind
	Key        []byte
	Value      []byte
	Headers    []byte // encoded headers (ABI.md §4.2); see AppendHeader and HeaderIter
	Timestamp  int64
	TrackingID uint64
}

// Size returns the number of bytes e takes in a batch.
func (e *Entry) Size() int { return EntryHeaderSize + len(e.Key) + len(e.Value) + len(e.Headers) }

// Writer builds a batch. The zero value is ready after Reset. A Writer is not safe
// for concurrent use.
type Writer struct {
	buf   []byte
	count uint32
	// open is the offset of the entry that BeginValue started and EndValue
	// has not ended yet; 0 when there is none.
	open int
}

// Reset empties w, keeping its buffer, and writes a fresh header with no watermark.
func (w *Writer) Reset() {
	if cap(w.buf) < BatchHeaderSize {
		w.buf = make([]byte, BatchHeaderSize, 4096)
	}
	w.buf = w.buf[:BatchHeaderSize]
	w.open = 0
	clear(w.buf)
	le.PutUint32(w.buf[offMagic:], Magic)
	putI64(w.buf[offWatermark:], NoTimestamp)
	w.count = 0
}

// Grow makes room for n more bytes without another allocation.
func (w *Writer) Grow(n int) {
	if w.buf == nil {
		w.Reset()
	}
	if cap(w.buf)-len(w.buf) < n {
		nb := make([]byte, len(w.buf), 2*cap(w.buf)+n)
		copy(nb, w.buf)
		w.buf = nb
	}
}

// Append adds e to the batch.
func (w *Writer) Append(e Entry) {
	if w.buf == nil {
		w.Reset()
	}
	w.Grow(e.Size())
	off := len(w.buf)
	w.buf = w.buf[:off+EntryHeaderSize]
	h := w.buf[off:]
	h[0], h[1], h[2], h[3] = byte(e.Kind), 0, 0, 0
	le.PutUint32(h[4:], uint32(len(e.Key)))
	le.PutUint32(h[8:], uint32(len(e.Value)))
	le.PutUint32(h[12:], uint32(len(e.Headers)))
	putI64(h[16:], e.Timestamp)
	le.PutUint64(h[24:], e.TrackingID)
	w.buf = append(w.buf, e.Key...)
	w.buf = append(w.buf, e.Value...)
	w.buf = append(w.buf, e.Headers...)
	w.count++
}

// BeginValue starts an entry of kind k with key and timestamp ts and no
// headers, whose value the caller appends in place: it returns the batch's
// buffer, the caller appends the value to it (and nothing else), and passes
// the extended buffer to EndValue. It saves the copy of a value that would
// otherwise be built in a scratch buffer and then appended. No other method
// of w may be called between the two.
func (w *Writer) BeginValue(k Kind, key []byte, ts int64) []byte {
	if w.open != 0 {
		panic("abi: BeginValue before the EndValue of the previous entry")
	}
	if w.buf == nil {
		w.Reset()
	}
	n := EntryHeaderSize + len(key)
	w.Grow(n)
	off := len(w.buf)
	w.buf = w.buf[:off+n]
	h := w.buf[off : off+n]
	h[0], h[1], h[2], h[3] = byte(k), 0, 0, 0
	le.PutUint32(h[4:], uint32(len(key)))
	le.PutUint64(h[8:], 0) // value and headers lengths; EndValue sets the value's
	putI64(h[16:], ts)
	le.PutUint64(h[24:], 0)
	copy(h[EntryHeaderSize:], key)
	w.open = off
	return w.buf
}

// EndValue ends the entry that BeginValue started; b is the buffer BeginValue
// returned with the entry's value appended.
func (w *Writer) EndValue(b []byte) {
	off := w.open
	if off == 0 || len(b) < len(w.buf) {
		panic("abi: EndValue without BeginValue, or with a shorter buffer than BeginValue returned")
	}
	h := b[off : off+EntryHeaderSize]
	le.PutUint32(h[8:], uint32(len(b)-len(w.buf)))
	w.buf, w.open = b, 0
	w.count++
}

// AppendRaw adds one already encoded entry, as returned by Reader.Raw.
func (w *Writer) AppendRaw(raw []byte) {
	if w.buf == nil {
		w.Reset()
	}
	w.buf = append(w.buf, raw...)
	w.count++
}

// SetWatermark sets the batch header's watermark.
func (w *Writer) SetWatermark(ms int64) {
	if w.buf == nil {
		w.Reset()
	}
	putI64(w.buf[offWatermark:], ms)
}

// Count returns the number of entries appended since Reset.
func (w *Writer) Count() int { return int(w.count) }

// Size returns the encoded size of the batch in bytes.
func (w *Writer) Size() int { return len(w.buf) }

// Bytes returns the encoded batch. It aliases w's buffer until the next Reset.
func (w *Writer) Bytes() []byte {
	if w.buf == nil {
		w.Reset()
	}
	le.PutUint32(w.buf[offCount:], w.count)
	return w.buf
}

// Detach returns the encoded batch and gives up w's buffer, so the caller may keep it.
// w must be Reset before it is used again.
func (w *Writer) Detach() []byte {
	b := w.Bytes()
	w.buf, w.count = nil, 0
	return b
}

// Use makes w append to buf (which must have a length of 0); it lets a caller
// recycle buffers. w must be Reset before it is used.
func (w *Writer) Use(buf []byte) { w.buf, w.count = buf[:0], 0 }

// Reader walks the entries of a batch without copying or allocating. It checks
// bounds as it goes, so a malformed batch ends the walk with an error rather than
// a panic; Validate checks everything else of ABI.md §4.3.
type Reader struct {
	buf  []byte
	off  int
	n, i uint32
	raw  []byte
	e    Entry
	err  error
}

// NewReader returns a Reader over the batch b.
func NewReader(b []byte) Reader {
	r := Reader{buf: b, off: BatchHeaderSize}
	if len(b) < BatchHeaderSize {
		r.err = &FormatError{Entry: -1, Field: "header", Msg: fmt.Sprintf("batch of %d bytes is shorter than the %d-byte header", len(b), BatchHeaderSize)}
		return r
	}
	if m := le.Uint32(b[offMagic:]); m != Magic {
		r.err = &FormatError{Entry: -1, Field: "magic", Msg: fmt.Sprintf("got %#x, want %#x", m, Magic)}
		return r
	}
	r.n = le.Uint32(b[offCount:])
	return r
}

// Next advances to the next entry and reports whether there is one. It returns false at
// the end of the batch or on a malformed entry (then Err is not nil).
func (r *Reader) Next() bool {
	if r.err != nil || r.i >= r.n {
		return false
	}
	b := r.buf
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
	r.e = Entry{
		Kind:       Kind(h[0]),
		Key:        b[p : p+int(kl) : p+int(kl)],
		Value:      b[p+int(kl) : p+int(kl+vl) : p+int(kl+vl)],
		Headers:    b[p+int(kl+vl) : int(end) : int(end)],
		Timestamp:  int64(le.Uint64(h[16:])),
		TrackingID: le.Uint64(h[24:]),
	}
	r.raw = b[r.off:int(end)]
	r.off = int(end)
	r.i++
	return true
}

// Entry returns the current entry; its slices alias the batch.
func (r *Reader) Entry() *Entry { return &r.e }

// Raw returns the encoded bytes of the current entry.
func (r *Reader) Raw() []byte { return r.raw }

// Index returns the index of the current entry.
func (r *Reader) Index() int { return int(r.i) - 1 }

// Err returns the error that stopped the walk, if any.
func (r *Reader) Err() error { return r.err }

// Count returns the entry count of the batch header of b (0 if b is too short).
func Count(b []byte) int {
	if len(b) < BatchHeaderSize {
		return 0
	}
	return int(le.Uint32(b[offCount:]))
}

// SetHeader writes the watermark and processing time of the batch header of b.
func SetHeader(b []byte, watermark, processingTime int64) {
	putI64(b[offWatermark:], watermark)
	putI64(b[offProcessingTime:], processingTime)
	le.PutUint32(b[OffCursor:], 0)
}

// Watermark returns the watermark of the batch header of b.
func Watermark(b []byte) int64 { return int64(le.Uint64(b[offWatermark:])) }

// ProcessingTime returns the processing time of the batch header of b.
func ProcessingTime(b []byte) int64 { return int64(le.Uint64(b[offProcessingTime:])) }

// Cursor returns the cursor of the batch header of b (ABI.md §4.4).
func Cursor(b []byte) uint32 { return le.Uint32(b[OffCursor:]) }

// EntryAt returns entry i of the batch b by walking it; ok is false if there is none.
func EntryAt(b []byte, i int) (e Entry, ok bool) {
	r := NewReader(b)
	for r.Next() {
		if r.Index() == i {
			return r.e, true
		}
	}
	return Entry{}, false
}

// FormatError says what is wrong with an encoded batch, and where.
type FormatError struct {
	Entry int    // index of the entry, or -1 for the batch header
	Field string // the field that is wrong
	Msg   string
}

func (e *FormatError) Error() string {
	if e.Entry < 0 {
		return fmt.Sprintf("malformed batch: %s: %s", e.Field, e.Msg)
	}
	return fmt.Sprintf("malformed batch: entry %d: %s: %s", e.Entry, e.Field, e.Msg)
}

// Limits bounds what a batch may hold (ABI.md §9).
type Limits struct {
	MaxKeyBytes   int
	MaxValueBytes int
	MaxEntries    int
}

// DefaultLimits are the limits of ABI.md §9.
var DefaultLimits = Limits{MaxKeyBytes: MaxKeyBytes, MaxValueBytes: MaxValueBytes, MaxEntries: MaxBatchEntries}

// Validate checks every rule of ABI.md §4.3 on b and returns a *FormatError for the
// first violation. If recordsOnly, every entry must be a record (kind 0), as in
// batches a guest emits.
func Validate(b []byte, lim Limits, recordsOnly bool) error {
	if len(b) < BatchHeaderSize {
		return &FormatError{Entry: -1, Field: "header", Msg: fmt.Sprintf("batch of %d bytes is shorter than the %d-byte header", len(b), BatchHeaderSize)}
	}
	if m := le.Uint32(b[offMagic:]); m != Magic {
		return &FormatError{Entry: -1, Field: "magic", Msg: fmt.Sprintf("got %#x, want %#x", m, Magic)}
	}
	n := le.Uint32(b[offCount:])
	if int64(n) > int64(lim.MaxEntries) {
		return &FormatError{Entry: -1, Field: "count", Msg: fmt.Sprintf("%d entries is more than the limit of %d", n, lim.MaxEntries)}
	}
	// The common entry passes one test per field: its first word (kind and the
	// three reserved bytes, little-endian) is at most maxWord, key and value are
	// within their limits, it has no headers and it ends inside b. Any other
	// entry goes to entryError, which checks the rules one by one in the order
	// that picks the error to report.
	maxWord := uint32(KindProcessingTime)
	if recordsOnly {
		maxWord = uint32(KindRecord)
	}
	fast := lim.MaxKeyBytes >= 0 && lim.MaxValueBytes >= 0
	maxKey, maxValue := uint64(lim.MaxKeyBytes), uint64(lim.MaxValueBytes)
	off := BatchHeaderSize
	for i := uint32(0); i < n; i++ {
		if len(b)-off < EntryHeaderSize {
			return &FormatError{Entry: int(i), Field: "header", Msg: fmt.Sprintf("entry header at byte %d runs past the batch end (%d bytes)", off, len(b))}
		}
		h := b[off : off+EntryHeaderSize]
		kl, vl, hl := uint64(le.Uint32(h[4:])), uint64(le.Uint32(h[8:])), uint64(le.Uint32(h[12:]))
		end := uint64(off) + EntryHeaderSize + kl + vl + hl
		if !fast || le.Uint32(h) > maxWord || kl > maxKey || vl > maxValue || hl != 0 || end > uint64(len(b)) {
			if err := entryError(b, off, int(i), lim, recordsOnly); err != nil {
				return err
			}
		}
		off = int(end)
	}
	if off != len(b) {
		return &FormatError{Entry: -1, Field: "count", Msg: fmt.Sprintf("%d entries end at byte %d but the batch has %d bytes", n, off, len(b))}
	}
	if le.Uint32(b[offReserved:]) != 0 {
		return &FormatError{Entry: -1, Field: "reserved", Msg: fmt.Sprintf("reserved header field at byte %d is not zero", offReserved)}
	}
	return nil
}

// entryError checks entry i of b, whose 32-byte header starts at byte off (it
// lies in b), against every rule of ABI.md §4.3 and returns the first
// violation, or nil.
func entryError(b []byte, off, i int, lim Limits, recordsOnly bool) error {
	h := b[off : off+EntryHeaderSize]
	kl, vl, hl := uint64(le.Uint32(h[4:])), uint64(le.Uint32(h[8:])), uint64(le.Uint32(h[12:]))
	end := uint64(off) + EntryHeaderSize + kl + vl + hl
	kind := Kind(h[0])
	switch {
	case end > uint64(len(b)):
		return &FormatError{Entry: i, Field: "length", Msg: fmt.Sprintf("key %d + value %d + headers %d bytes at byte %d run past the batch end (%d bytes)", kl, vl, hl, off, len(b))}
	case kind > KindProcessingTime:
		return &FormatError{Entry: i, Field: "kind", Msg: fmt.Sprintf("unknown kind %d", kind)}
	case recordsOnly && kind != KindRecord:
		return &FormatError{Entry: i, Field: "kind", Msg: fmt.Sprintf("%s in an emitted batch; only records (kind 0) may be emitted", kind)}
	case h[1] != 0 || h[2] != 0 || h[3] != 0:
		return &FormatError{Entry: i, Field: "reserved", Msg: "reserved bytes 1..3 are not zero"}
	case int64(kl) > int64(lim.MaxKeyBytes):
		return &FormatError{Entry: i, Field: "key", Msg: fmt.Sprintf("%d bytes is more than the limit of %d", kl, lim.MaxKeyBytes)}
	case int64(vl) > int64(lim.MaxValueBytes):
		return &FormatError{Entry: i, Field: "value", Msg: fmt.Sprintf("%d bytes is more than the limit of %d", vl, lim.MaxValueBytes)}
	}
	if hl == 0 {
		return nil
	}
	p := uint64(off) + EntryHeaderSize + kl + vl
	if err := validateHeaders(b[p:end]); err != nil {
		return &FormatError{Entry: i, Field: "headers", Msg: err.Error()}
	}
	return nil
}

// validateHeaders checks that h is a sequence of (name, value) pairs, each a
// u32 length and that many bytes, filling h exactly. Its errors are those of
// HeaderIter.Next.
func validateHeaders(h []byte) error {
	for len(h) > 0 {
		for range 2 { // name, value
			if len(h) < 4 {
				return fmt.Errorf("truncated length prefix")
			}
			n := uint64(le.Uint32(h))
			if n > uint64(len(h)-4) {
				return fmt.Errorf("length %d runs past the end (%d bytes left)", n, len(h)-4)
			}
			h = h[4+n:]
		}
	}
	return nil
}

// AppendHeader appends one encoded header (name, value) to dst.
func AppendHeader(dst []byte, name, value string) []byte {
	dst = le.AppendUint32(dst, uint32(len(name)))
	dst = append(dst, name...)
	dst = le.AppendUint32(dst, uint32(len(value)))
	return append(dst, value...)
}

// HeaderIter walks encoded headers.
type HeaderIter struct {
	b   []byte
	err error
}

// Headers returns an iterator over the encoded headers h.
func Headers(h []byte) HeaderIter { return HeaderIter{b: h} }

// Next returns the next header; ok is false at the end or on malformed input.
func (it *HeaderIter) Next() (name, value []byte, ok bool) {
	if len(it.b) == 0 || it.err != nil {
		return nil, nil, false
	}
	var field []byte
	for i := 0; i < 2; i++ {
		if len(it.b) < 4 {
			it.err = fmt.Errorf("truncated length prefix")
			return nil, nil, false
		}
		n := uint64(le.Uint32(it.b))
		if n > uint64(len(it.b)-4) {
			it.err = fmt.Errorf("length %d runs past the end (%d bytes left)", n, len(it.b)-4)
			return nil, nil, false
		}
		field, it.b = it.b[4:4+n], it.b[4+n:]
		if i == 0 {
			name = field
		}
	}
	return name, field, true
}

// Err returns the error that ended the walk, if any.
func (it *HeaderIter) Err() error { return it.err }

func putI64(b []byte, v int64) { le.PutUint64(b, uint64(v)) }

// AppendBatch appends every entry of the batch b, which must be valid (for example
// validated with Validate, or written by a Writer), in one copy.
func (w *Writer) AppendBatch(b []byte) {
	if w.buf == nil {
		w.Reset()
	}
	w.buf = append(w.buf, b[BatchHeaderSize:]...)
	w.count += le.Uint32(b[offCount:])
}

// SetTrackingID overwrites the tracking id of the entry whose encoding starts at
// byte off of the batch being written (as returned by Size before Append).
func (w *Writer) SetTrackingID(off int, id uint64) { le.PutUint64(w.buf[off+24:], id) }

// EntryTimestamp returns the timestamp of the entry that starts at byte off of the
// batch being written.
func (w *Writer) EntryTimestamp(off int) int64 { return int64(le.Uint64(w.buf[off+16:])) }

// EntryEnd returns the offset just past the entry that starts at byte off of the
// batch being written.
func (w *Writer) EntryEnd(off int) int {
	h := w.buf[off:]
	return off + EntryHeaderSize + int(le.Uint32(h[4:])) + int(le.Uint32(h[8:])) + int(le.Uint32(h[12:]))
}

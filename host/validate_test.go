package host

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/weirstream/weir/abi"
)

// The host validates every batch a guest emits with abi.Validate, whose fast
// path checks each entry with one comparison per field. These tests compare
// it with referenceValidate, a straightforward reading of ABI.md §4.3 on top
// of abi.Reader, on many malformed batches: both must report the same first
// violation, word for word.

// referenceValidate checks b rule by rule, entry by entry.
func referenceValidate(b []byte, lim abi.Limits, recordsOnly bool) error {
	r := abi.NewReader(b)
	if r.Err() != nil {
		return r.Err()
	}
	n := abi.Count(b)
	if n > lim.MaxEntries {
		return &abi.FormatError{Entry: -1, Field: "count", Msg: fmt.Sprintf("%d entries is more than the limit of %d", n, lim.MaxEntries)}
	}
	off := abi.BatchHeaderSize
	for r.Next() {
		raw, e, i := r.Raw(), r.Entry(), r.Index()
		off += len(raw)
		switch {
		case e.Kind > abi.KindProcessingTime:
			return &abi.FormatError{Entry: i, Field: "kind", Msg: fmt.Sprintf("unknown kind %d", e.Kind)}
		case recordsOnly && e.Kind != abi.KindRecord:
			return &abi.FormatError{Entry: i, Field: "kind", Msg: fmt.Sprintf("%s in an emitted batch; only records (kind 0) may be emitted", e.Kind)}
		case raw[1] != 0 || raw[2] != 0 || raw[3] != 0:
			return &abi.FormatError{Entry: i, Field: "reserved", Msg: "reserved bytes 1..3 are not zero"}
		case len(e.Key) > lim.MaxKeyBytes:
			return &abi.FormatError{Entry: i, Field: "key", Msg: fmt.Sprintf("%d bytes is more than the limit of %d", len(e.Key), lim.MaxKeyBytes)}
		case len(e.Value) > lim.MaxValueBytes:
			return &abi.FormatError{Entry: i, Field: "value", Msg: fmt.Sprintf("%d bytes is more than the limit of %d", len(e.Value), lim.MaxValueBytes)}
		}
		for it := abi.Headers(e.Headers); ; {
			if _, _, ok := it.Next(); !ok {
				if it.Err() != nil {
					return &abi.FormatError{Entry: i, Field: "headers", Msg: it.Err().Error()}
				}
				break
			}
		}
	}
	if r.Err() != nil {
		return r.Err()
	}
	if off != len(b) {
		return &abi.FormatError{Entry: -1, Field: "count", Msg: fmt.Sprintf("%d entries end at byte %d but the batch has %d bytes", n, off, len(b))}
	}
	if binary.LittleEndian.Uint32(b[28:]) != 0 {
		return &abi.FormatError{Entry: -1, Field: "reserved", Msg: "reserved header field at byte 28 is not zero"}
	}
	return nil
}

// randomBatch returns a valid batch of up to 8 entries, some with headers.
func randomBatch(rng *rand.Rand) []byte {
	var w abi.Writer
	w.Reset()
	for range rng.IntN(9) {
		e := abi.Entry{
			Kind:       abi.Kind(rng.IntN(3)),
			Key:        make([]byte, rng.IntN(12)),
			Value:      make([]byte, rng.IntN(20)),
			Timestamp:  rng.Int64(),
			TrackingID: rng.Uint64(),
		}
		for range rng.IntN(3) {
			e.Headers = abi.AppendHeader(e.Headers, "h", string(make([]byte, rng.IntN(4))))
		}
		w.Append(e)
	}
	return w.Detach()
}

// mutate damages b in one of the ways ABI.md §4.3 forbids (or in none).
func mutate(rng *rand.Rand, b []byte) []byte {
	le := binary.LittleEndian
	if len(b) < abi.BatchHeaderSize {
		return b
	}
	// offsets of the entry headers that lie in b (b may be damaged already)
	var offs []int
	for off, i := abi.BatchHeaderSize, 0; i < abi.Count(b) && off+abi.EntryHeaderSize <= len(b); i++ {
		offs = append(offs, off)
		h := b[off:]
		off += abi.EntryHeaderSize + int(le.Uint32(h[4:])) + int(le.Uint32(h[8:])) + int(le.Uint32(h[12:]))
	}
	pick := func() int { return offs[rng.IntN(len(offs))] }
	switch k := rng.IntN(12); {
	case k == 0:
		return b[:rng.IntN(len(b)+1)] // truncated anywhere
	case k == 1:
		le.PutUint32(b[4:], le.Uint32(b[4:])+uint32(rng.IntN(3))-1) // count off by one
	case k == 2:
		b = append(b, make([]byte, 1+rng.IntN(40))...) // trailing bytes
	case k == 3:
		b[28+rng.IntN(4)] = byte(1 + rng.IntN(255)) // batch reserved field
	case k == 4:
		b[0] ^= 1 // magic
	case len(offs) == 0:
	case k == 5:
		b[pick()] = byte(rng.IntN(256)) // kind
	case k == 6:
		b[pick()+1+rng.IntN(3)] = byte(1 + rng.IntN(255)) // entry reserved bytes
	case k == 7, k == 8: // a length field
		le.PutUint32(b[pick()+4+4*rng.IntN(3):], rng.Uint32N(64))
	case k == 9:
		le.PutUint32(b[pick()+4+4*rng.IntN(3):], rng.Uint32()) // a huge length
	case k == 10: // damage a header's length prefix
		off := pick()
		h := b[off:]
		kl, vl, hl := int(le.Uint32(h[4:])), int(le.Uint32(h[8:])), int(le.Uint32(h[12:]))
		if p := off + abi.EntryHeaderSize + kl + vl; hl >= 4 && p+4 <= len(b) {
			le.PutUint32(b[p:], rng.Uint32N(16))
		}
	}
	return b
}

// TestValidateMatchesReference runs abi.Validate and referenceValidate on
// valid and damaged batches under several limits.
func TestValidateMatchesReference(t *testing.T) {
	limits := []struct {
		name string
		lim  abi.Limits
	}{
		{"defaults", abi.DefaultLimits},
		{"small", abi.Limits{MaxKeyBytes: 5, MaxValueBytes: 10, MaxEntries: 4}},
		{"zero", abi.Limits{}},
		{"negative", abi.Limits{MaxKeyBytes: -1, MaxValueBytes: -1, MaxEntries: -1}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	errors := 0
	for range 20000 {
		b := randomBatch(rng)
		for range rng.IntN(3) {
			b = mutate(rng, b)
		}
		for _, l := range limits {
			for _, recordsOnly := range []bool{false, true} {
				got, want := abi.Validate(b, l.lim, recordsOnly), referenceValidate(b, l.lim, recordsOnly)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("limits %s, recordsOnly %v, batch %x:\nValidate  = %v\nreference = %v", l.name, recordsOnly, b, got, want)
				}
				if got != nil {
					errors++
				}
			}
		}
	}
	if errors == 0 {
		t.Fatal("no batch was rejected: the mutations do not test anything")
	}
}

// BenchmarkValidate measures abi.Validate on the batch a pass-through guest
// emits for 1000 records of ~100 bytes, without headers and with one header
// per record, against referenceValidate.
func BenchmarkValidate(b *testing.B) {
	for _, headers := range []bool{false, true} {
		var w abi.Writer
		w.Reset()
		for i := range 1000 {
			e := abi.Entry{Key: []byte(fmt.Sprintf("user-%05d", i)), Value: make([]byte, 58), Timestamp: int64(i), TrackingID: uint64(i)}
			if headers {
				e.Headers = abi.AppendHeader(nil, "trace", "0123456789")
			}
			w.Append(e)
		}
		batch := w.Bytes()
		for _, f := range []struct {
			name     string
			validate func([]byte, abi.Limits, bool) error
		}{{"abi.Validate", abi.Validate}, {"reference", referenceValidate}} {
			b.Run(fmt.Sprintf("headers=%v/%s", headers, f.name), func(b *testing.B) {
				for range b.N {
					if err := f.validate(batch, abi.DefaultLimits, true); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/entry")
			})
		}
	}
}

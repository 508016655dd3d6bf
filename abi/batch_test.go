package abi

import (
	"bytes"
	"errors"
	"testing"
)

func sampleBatch() []byte {
	var w Writer
	w.Reset()
	w.SetWatermark(5)
	w.Append(Entry{Key: []byte("k"), Value: []byte("v"), Timestamp: 7, TrackingID: 9, Headers: AppendHeader(nil, "h", "x")})
	w.Append(Entry{Kind: KindEventTimer, Key: []byte("t"), Timestamp: 100})
	w.Append(Entry{})
	return bytes.Clone(w.Bytes())
}

func TestWriterReaderRoundTrip(t *testing.T) {
	b := sampleBatch()
	if err := Validate(b, DefaultLimits, false); err != nil {
		t.Fatal(err)
	}
	if err := Validate(b, DefaultLimits, true); err == nil {
		t.Fatal("a timer entry passed as an emitted record")
	}
	r := NewReader(b)
	var keys []string
	for r.Next() {
		keys = append(keys, string(r.Entry().Key))
	}
	if r.Err() != nil || len(keys) != 3 || keys[0] != "k" || keys[1] != "t" || Watermark(b) != 5 || Count(b) != 3 {
		t.Fatalf("keys %q err %v watermark %d", keys, r.Err(), Watermark(b))
	}
	var w Writer
	w.Reset()
	w.AppendBatch(b)
	w.AppendBatch(b)
	if w.Count() != 6 || Validate(w.Bytes(), DefaultLimits, false) != nil {
		t.Fatalf("AppendBatch: count %d", w.Count())
	}
	e, ok := EntryAt(b, 1)
	if !ok || e.Kind != KindEventTimer || e.Timestamp != 100 {
		t.Fatalf("EntryAt(1) = %+v, %v", e, ok)
	}
}

func TestKeyGroup(t *testing.T) {
	// FNV-1a 64 of "" is the offset basis; of "a" it is 0xaf63dc4c8601ec8c.
	if Hash(nil) != 0xcbf29ce484222325 || Hash([]byte("a")) != 0xaf63dc4c8601ec8c {
		t.Fatalf("Hash: %#x %#x", Hash(nil), Hash([]byte("a")))
	}
	if kg := KeyGroup([]byte("a"), 128); kg != int(0xaf63dc4c8601ec8c%128) {
		t.Fatalf("KeyGroup = %d", kg)
	}
}

// FuzzValidate feeds arbitrary bytes to the batch decoder: Validate and Reader
// must never panic, and a batch Validate accepts must walk to its end with the
// count the header says.
func FuzzValidate(f *testing.F) {
	f.Add(sampleBatch())
	f.Add([]byte{})
	f.Add(sampleBatch()[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Validate(b, Limits{MaxKeyBytes: 1 << 10, MaxValueBytes: 1 << 16, MaxEntries: 1 << 12}, false)
		r := NewReader(b)
		n := 0
		for r.Next() {
			n++
		}
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Error() == "" {
				t.Fatalf("error %v is not a *FormatError with a message", err)
			}
			return
		}
		if r.Err() != nil || n != Count(b) {
			t.Fatalf("valid batch: walked %d of %d entries, err %v", n, Count(b), r.Err())
		}
		var w Writer
		w.Reset()
		w.AppendBatch(b)
		if Validate(w.Bytes(), DefaultLimits, false) != nil {
			t.Fatal("a valid batch copied with AppendBatch is not valid")
		}
	})
}

// TestBeginValue checks that an entry whose value is appended in place, across
// a growth of the buffer, encodes exactly as the same entry given to Append.
func TestBeginValue(t *testing.T) {
	tests := []struct {
		name  string
		value []byte
	}{
		{"empty value", nil},
		{"short value", []byte("abc")},
		{"value that grows the buffer", bytes.Repeat([]byte("x"), 10000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want, got Writer
			want.Reset()
			got.Reset()
			for i := range 3 {
				e := Entry{Key: []byte{byte(i), 'k'}, Value: tc.value, Timestamp: int64(100 + i)}
				want.Append(e)
				b := got.BeginValue(e.Kind, e.Key, e.Timestamp)
				b = append(b, tc.value...)
				got.EndValue(b)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) || got.Count() != 3 {
				t.Fatalf("BeginValue/EndValue wrote %d entries:\n%x\nwant\n%x", got.Count(), got.Bytes(), want.Bytes())
			}
			if err := Validate(got.Bytes(), DefaultLimits, true); err != nil {
				t.Fatal(err)
			}
		})
	}
}

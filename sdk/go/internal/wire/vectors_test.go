package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// vectorFile is the host repository's batch encoding vectors, read through a
// path relative to this package (sdk/go/internal/wire).
const vectorFile = "../../../../abi/testdata/batches.json"

type vectors struct {
	Valid []struct {
		Name           string        `json:"name"`
		Watermark      *int64        `json:"watermark"`
		ProcessingTime int64         `json:"processingTime"`
		Entries        []vectorEntry `json:"entries"`
		Hex            string        `json:"hex"`
	} `json:"valid"`
	Invalid []struct {
		Name        string `json:"name"`
		Hex         string `json:"hex"`
		RecordsOnly bool   `json:"recordsOnly"`
		ErrorEntry  int    `json:"errorEntry"`
		ErrorField  string `json:"errorField"`
	} `json:"invalid"`
}

type vectorEntry struct {
	Kind       string      `json:"kind"`
	Key        *string     `json:"key"`
	KeyHex     *string     `json:"keyHex"`
	Value      *string     `json:"value"`
	ValueHex   *string     `json:"valueHex"`
	Headers    [][2]string `json:"headers"`
	Timestamp  *int64      `json:"timestamp"`
	TrackingID uint64      `json:"trackingId"`
}

func loadVectors(t testing.TB) vectors {
	t.Helper()
	b, err := os.ReadFile(vectorFile)
	if err != nil {
		t.Fatalf("the SDK's tests read the ABI vectors of the host repository: %v", err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", vectorFile, err)
	}
	if len(v.Valid) == 0 || len(v.Invalid) == 0 {
		t.Fatalf("%s: no vectors", vectorFile)
	}
	return v
}

func bytesOf(t *testing.T, text, hexText *string) []byte {
	t.Helper()
	switch {
	case text != nil && hexText != nil:
		t.Fatal("a byte field is given both as text and as hex")
	case hexText != nil:
		b, err := hex.DecodeString(*hexText)
		if err != nil {
			t.Fatal(err)
		}
		return b
	case text != nil:
		return []byte(*text)
	}
	return nil
}

func (ve vectorEntry) entry(t *testing.T) Entry {
	t.Helper()
	kinds := map[string]uint8{"record": KindRecord, "eventTimer": KindEventTimer, "processingTimer": KindProcessingTimer}
	kind, ok := kinds[ve.Kind]
	if !ok {
		t.Fatalf("unknown kind %q", ve.Kind)
	}
	e := Entry{Kind: kind, Key: bytesOf(t, ve.Key, ve.KeyHex), Value: bytesOf(t, ve.Value, ve.ValueHex), Timestamp: NoTimestamp, TrackingID: ve.TrackingID}
	if ve.Timestamp != nil {
		e.Timestamp = *ve.Timestamp
	}
	for _, h := range ve.Headers {
		e.Headers = AppendHeader(e.Headers, []byte(h[0]), []byte(h[1]))
	}
	return e
}

// TestVectorsValid checks that Writer encodes each valid vector to exactly its
// bytes, and that ReadHeader, Reader and Validate accept them (ABI §4.1-§4.3).
func TestVectorsValid(t *testing.T) {
	for _, c := range loadVectors(t).Valid {
		t.Run(c.Name, func(t *testing.T) {
			want, err := hex.DecodeString(c.Hex)
			if err != nil {
				t.Fatal(err)
			}
			wm := NoTimestamp
			if c.Watermark != nil {
				wm = *c.Watermark
			}
			var w Writer
			w.SetWatermark(wm)
			w.SetProcessingTime(c.ProcessingTime)
			entries := make([]Entry, len(c.Entries))
			for i, ve := range c.Entries {
				e := ve.entry(t)
				entries[i] = e
				w.Append(e.Kind, e.Key, e.Value, e.Headers, e.Timestamp, e.TrackingID)
			}
			if got := w.Bytes(); !bytes.Equal(got, want) {
				t.Fatalf("Writer produced\n%x\nwant\n%x", got, want)
			}
			if err := Validate(want, false); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			var r Reader
			if err := r.Reset(want); err != nil {
				t.Fatal(err)
			}
			if h := r.Header(); h != (Header{Count: uint32(len(entries)), Watermark: wm, ProcessingTime: c.ProcessingTime}) {
				t.Fatalf("header %+v, want count %d watermark %d processing time %d", h, len(entries), wm, c.ProcessingTime)
			}
			n := 0
			for r.Next() {
				got, exp := r.Entry(), entries[n]
				if got.Kind != exp.Kind || !bytes.Equal(got.Key, exp.Key) || !bytes.Equal(got.Value, exp.Value) ||
					!bytes.Equal(got.Headers, exp.Headers) || got.Timestamp != exp.Timestamp || got.TrackingID != exp.TrackingID {
					t.Errorf("entry %d: Reader got %+v, want %+v", n, *got, exp)
				}
				n++
			}
			if r.Err() != nil || n != len(entries) {
				t.Fatalf("Reader read %d of %d entries, err %v", n, len(entries), r.Err())
			}
		})
	}
}

// TestVectorsInvalid checks that Validate rejects each invalid vector naming
// the entry and field it expects, and that Reader never reads past a bad
// entry (ABI §4.3).
func TestVectorsInvalid(t *testing.T) {
	for _, c := range loadVectors(t).Invalid {
		t.Run(c.Name, func(t *testing.T) {
			b, err := hex.DecodeString(c.Hex)
			if err != nil {
				t.Fatal(err)
			}
			err = Validate(b, c.RecordsOnly)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a *FormatError", err)
			}
			if fe.Entry != c.ErrorEntry || fe.Field != c.ErrorField {
				t.Fatalf("Validate reported entry %d field %q (%v), want entry %d field %q", fe.Entry, fe.Field, err, c.ErrorEntry, c.ErrorField)
			}
			if c.RecordsOnly {
				if err := Validate(b, false); err != nil {
					t.Fatalf("valid as a host batch, but Validate(recordsOnly=false) = %v", err)
				}
			}
			var r Reader
			r.Reset(b)
			for r.Next() {
				if r.Index() > c.ErrorEntry && c.ErrorEntry >= 0 && (c.ErrorField == "header" || c.ErrorField == "length") {
					t.Fatalf("Reader read entry %d past the bad entry %d", r.Index(), c.ErrorEntry)
				}
			}
		})
	}
}

// FuzzReader feeds arbitrary bytes to the SDK's batch decoder: it must never
// panic or read out of bounds, and a batch that Validate accepts must encode
// back to the same bytes.
func FuzzReader(f *testing.F) {
	for _, c := range loadVectors(f).Valid {
		b, _ := hex.DecodeString(c.Hex)
		f.Add(b)
	}
	for _, c := range loadVectors(f).Invalid {
		b, _ := hex.DecodeString(c.Hex)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Reader
		if r.Reset(b) != nil {
			return
		}
		var w Writer
		w.SetWatermark(r.Header().Watermark)
		w.SetProcessingTime(r.Header().ProcessingTime)
		for r.Next() {
			e := r.Entry()
			if len(e.Key) > len(b) || len(e.Value) > len(b) || len(e.Headers) > len(b) {
				t.Fatalf("entry %d is larger than the batch", r.Index())
			}
			w.Append(e.Kind, e.Key, e.Value, e.Headers, e.Timestamp, e.TrackingID)
		}
		if Validate(b, false) != nil {
			return
		}
		if r.Err() != nil {
			t.Fatalf("Validate accepted a batch the Reader rejects: %v", r.Err())
		}
		got := w.Bytes()
		SetCursor(got, r.Header().Cursor)
		if !bytes.Equal(got, b) {
			t.Fatalf("re-encoding a valid batch gave\n%x\nwant\n%x", got, b)
		}
	})
}

package datagen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/conformance"
)

func mustSource(t testing.TB, opts string) *Source {
	t.Helper()
	s, err := newSource(json.RawMessage(opts))
	if err != nil {
		t.Fatalf("NewSource(%s): %v", opts, err)
	}
	return s
}

func env(c runtime.Clock) runtime.SourceEnv {
	return runtime.SourceEnv{Clock: c, Logger: slog.New(slog.DiscardHandler)}
}

func TestConformance(t *testing.T) {
	for _, opts := range []string{
		`{"count":1000,"splits":3,"valueBytes":30,"keys":17}`,
		`{"count":5,"splits":8}`, // some splits have no record
		`{"count":200,"valueBytes":5,"seed":0,"timeStep":0,"startTime":"2020-02-02T00:00:00Z"}`,
	} {
		t.Run(opts, func(t *testing.T) {
			conformance.TestSource(t, func(t *testing.T) runtime.Source { return mustSource(t, opts) })
		})
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"unknown option", `{"count":1,"speed":3}`, []string{`unknown field "speed"`}},
		{"negative count", `{"count":-1}`, []string{"option count: -1 is negative"}},
		{"zero splits", `{"splits":0}`, []string{"option splits: 0 is outside 1..65536"}},
		{"too many splits", `{"splits":65537}`, []string{"option splits: 65537 is outside"}},
		{"negative rate", `{"rate":-5}`, []string{"option rate: -5 records/s is negative"}},
		{"zero keys", `{"keys":0}`, []string{"option keys: 0 is less than 1"}},
		{"negative valueBytes", `{"valueBytes":-1}`, []string{"option valueBytes: -1 is outside 0..16777216"}},
		{"huge valueBytes", `{"valueBytes":16777217}`, []string{"option valueBytes: 16777217 is outside"}},
		{"negative timeStep", `{"timeStep":-1}`, []string{"option timeStep: -1 ms is negative"}},
		{"overflowing timestamps", `{"count":10,"timeStep":9223372036854775807}`, []string{"option timeStep: startTime + (count-1) * timeStep overflows"}},
		{"bad startTime string", `{"startTime":"tomorrow"}`, []string{`option startTime: "tomorrow" is not an RFC 3339 time`}},
		{"fractional startTime", `{"startTime":1.5}`, []string{"option startTime: 1.5 is not an integer of milliseconds"}},
		{"startTime boolean", `{"startTime":true}`, []string{"option startTime: true is not an integer"}},
		{"negative seed", `{"seed":-1}`, []string{"option seed: got a JSON number -1, want a non-negative integer"}},
		{"count a string", `{"count":"10"}`, []string{"option count: got a JSON string, want an integer"}},
		{"two errors", `{"splits":0,"keys":0}`, []string{"option splits", "option keys"}},
		{"trailing data", `{}x`, []string{"unexpected data after the JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSource(json.RawMessage(tt.opts), "")
			if err == nil {
				t.Fatalf("NewSource(%s) succeeded, want an error with %q", tt.opts, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) || !strings.HasPrefix(err.Error(), "datagen source: ") {
					t.Errorf("NewSource(%s) error %q does not contain %q", tt.opts, err, w)
				}
			}
		})
	}
}

// TestSplitMix64 checks the documented PRNG against the reference output of
// splitmix64.c for state 0 and the example in doc.go.
func TestSplitMix64(t *testing.T) {
	if got := splitmix64(0); got != 0xe220a8397b1dcdaf {
		t.Errorf("splitmix64(0) = %#x, want 0xe220a8397b1dcdaf", got)
	}
	if got := splitmix64(1); got != 0x910a2dec89025cc1 {
		t.Errorf("splitmix64(1) = %#x, want 0x910a2dec89025cc1", got)
	}
	key, _, _ := mustSource(t, `{}`).Record(0)
	if string(key) != "key-465" {
		t.Errorf("record 0 with the default options has key %q, want key-465 (doc.go)", key)
	}
}

type rec struct {
	key, value string
	ts         int64
}

// readSplit reads split to io.EOF from the start.
func readSplit(t *testing.T, s *Source, split string) []rec {
	t.Helper()
	r, err := s.Open(context.Background(), split, nil, env(runtime.SystemClock{}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var (
		out []rec
		w   abi.Writer
	)
	for {
		w.Reset()
		_, err := r.Read(context.Background(), &w, 64)
		for rd := abi.NewReader(w.Bytes()); rd.Next(); {
			e := rd.Entry()
			out = append(out, rec{string(e.Key), string(e.Value), e.Timestamp})
		}
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestRecords checks the record definition of doc.go: the splits' union is
// exactly records 0..count-1 whatever the splits, split s holds s, s+splits,
// ..., and each record's fields are as documented.
func TestRecords(t *testing.T) {
	const count = 500
	for _, splits := range []int{1, 3, 7, 600} {
		t.Run(fmt.Sprintf("%d splits", splits), func(t *testing.T) {
			s := mustSource(t, fmt.Sprintf(`{"count":%d,"splits":%d,"seed":42,"keys":10,"valueBytes":26,"startTime":1000,"timeStep":3}`, count, splits))
			ids, _ := s.Splits(context.Background())
			if len(ids) != splits {
				t.Fatalf("%d split ids, want %d", len(ids), splits)
			}
			seen := make([]bool, count)
			for sp, id := range ids {
				if id != fmt.Sprintf("split-%d-of-%d", sp, splits) {
					t.Fatalf("split %d has id %q", sp, id)
				}
				for k, r := range readSplit(t, s, id) {
					i, err := strconv.Atoi(r.value[:20])
					if err != nil || len(r.value) != 26 {
						t.Fatalf("value %q does not start with 20 index digits or is not 26 bytes", r.value)
					}
					if want := sp + k*splits; i != want {
						t.Fatalf("split %d record %d has index %d, want %d", sp, k, i, want)
					}
					if seen[i] {
						t.Fatalf("record %d produced twice", i)
					}
					seen[i] = true
					if want := fmt.Sprintf("key-%d", splitmix64(42^uint64(i))%10); r.key != want {
						t.Errorf("record %d has key %q, want %q", i, r.key, want)
					}
					if want := int64(1000 + 3*i); r.ts != want {
						t.Errorf("record %d has timestamp %d, want %d", i, r.ts, want)
					}
					for j := 20; j < 26; j++ {
						if want := 'a' + byte(splitmix64(42+uint64(j))%26); r.value[j] != want {
							t.Errorf("record %d value byte %d is %q, want %q", i, j, r.value[j], want)
						}
					}
					k2, v2, ts2 := s.Record(uint64(i))
					if string(k2) != r.key || string(v2) != r.value || ts2 != r.ts {
						t.Errorf("Record(%d) = %q %q %d, Read gave %q %q %d", i, k2, v2, ts2, r.key, r.value, r.ts)
					}
				}
			}
			if missing := slices.Index(seen, false); missing >= 0 {
				t.Errorf("record %d was not produced", missing)
			}
		})
	}
}

func TestShortValues(t *testing.T) {
	tests := []struct {
		name       string
		valueBytes int
		i          uint64
		want       string
	}{
		{"empty", 0, 1234, ""},
		{"last digits", 3, 1234, "234"},
		{"exactly the digits", 20, 1234, "00000000000000001234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSource(t, fmt.Sprintf(`{"valueBytes":%d,"splits":7,"count":2000}`, tt.valueBytes))
			if _, v, _ := s.Record(tt.i); string(v) != tt.want {
				t.Errorf("Record(%d) value = %q, want %q", tt.i, v, tt.want)
			}
			recs := readSplit(t, s, SplitID(int(tt.i%7), 7))
			if got := recs[tt.i/7].value; got != tt.want {
				t.Errorf("record %d read from its split has value %q, want %q", tt.i, got, tt.want)
			}
		})
	}
}

// TestIndexDigitsCarry checks the decimal addition of splits across carries
// by reading past 10^k boundaries with an odd split count.
func TestIndexDigitsCarry(t *testing.T) {
	s := mustSource(t, `{"splits":997,"count":2000000}`)
	pos := func(i uint64) []byte { return []byte{0, 0, 0, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)} }
	start := uint64(5 + 997*1000) // 997005, in split 5; the next records cross 10^6
	r, err := s.Open(context.Background(), SplitID(5, 997), pos(start), env(runtime.SystemClock{}))
	if err != nil {
		t.Fatal(err)
	}
	var w abi.Writer
	w.Reset()
	if _, err := r.Read(context.Background(), &w, 10); err != nil {
		t.Fatal(err)
	}
	k := uint64(0)
	for rd := abi.NewReader(w.Bytes()); rd.Next(); k++ {
		i := start + k*997
		if _, v, _ := s.Record(i); string(rd.Entry().Value) != string(v) {
			t.Errorf("record %d has value %.24q, want %.24q", i, rd.Entry().Value, v)
		}
	}
}

func TestUnbounded(t *testing.T) {
	s := mustSource(t, `{"splits":2}`)
	r, err := s.Open(context.Background(), SplitID(1, 2), nil, env(runtime.SystemClock{}))
	if err != nil {
		t.Fatal(err)
	}
	var w abi.Writer
	for range 100 {
		w.Reset()
		n, err := r.Read(context.Background(), &w, 1000)
		if n != 1000 || err != nil {
			t.Fatalf("Read of an unbounded split = %d, %v; want 1000, nil", n, err)
		}
	}
	w.Reset()
	if n, _ := r.Read(context.Background(), &w, 1<<30); n != maxReadRecords {
		t.Errorf("Read with a huge maxRecords returned %d records, want the cap %d", n, maxReadRecords)
	}
}

func TestRateLimit(t *testing.T) {
	clock := runtime.NewManualClock(time.Unix(1000, 0))
	s := mustSource(t, `{"rate":100,"splits":2,"count":1000}`) // 50 records/s per split
	r, err := s.Open(context.Background(), SplitID(0, 2), nil, env(clock))
	if err != nil {
		t.Fatal(err)
	}
	var w abi.Writer
	read := func(max int) int {
		t.Helper()
		w.Reset()
		n, err := r.Read(context.Background(), &w, max)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		return n
	}
	steps := []struct {
		advance time.Duration
		max     int
		want    int
	}{
		{0, 100, 0},                     // nothing allowed at open
		{19 * time.Millisecond, 100, 0}, // 0.95 records
		{time.Millisecond, 100, 1},      // 20ms: 1 record
		{0, 100, 0},
		{80 * time.Millisecond, 100, 4}, // 100ms: 5 in all
		{time.Second, 10, 10},           // 1.1s: 55 in all; maxRecords caps
		{0, 100, 40},
		{0, 100, 0},
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		if got := read(st.max); got != st.want {
			t.Fatalf("step %d (clock at +%v, maxRecords %d): Read returned %d records, want %d", i, clock.Now().Sub(time.Unix(1000, 0)), st.max, got, st.want)
		}
	}
	// A reopened split starts a new budget, at the position it reached.
	r2, err := s.Open(context.Background(), SplitID(0, 2), r.Position(), env(clock))
	if err != nil {
		t.Fatal(err)
	}
	w.Reset()
	if n, _ := r2.Read(context.Background(), &w, 100); n != 0 {
		t.Errorf("a reopened split read %d records at once, want 0", n)
	}
	clock.Advance(time.Second)
	w.Reset()
	if n, _ := r2.Read(context.Background(), &w, 100); n != 50 {
		t.Errorf("a reopened split read %d records after 1s, want 50", n)
	}
	rd := abi.NewReader(w.Bytes())
	rd.Next()
	if i, _ := strconv.Atoi(string(rd.Entry().Value[:20])); i != 2*55 {
		t.Errorf("the reopened split resumed at index %d, want %d", i, 2*55)
	}
}

func TestOpenErrors(t *testing.T) {
	s := mustSource(t, `{"splits":4}`)
	tests := []struct {
		name, split string
		pos         []byte
		want        string
	}{
		{"unknown split", "split-4-of-4", nil, `split "split-4-of-4" is not one of this source's 4 splits`},
		{"other split count", "split-1-of-8", nil, "is not one of this source's 4 splits"},
		{"garbage", "x", nil, "is not one of"},
		{"padded", "split-01-of-4", nil, "is not one of"},
		{"position of another split", "split-1-of-4", []byte{0, 0, 0, 0, 0, 0, 0, 6}, `split "split-1-of-4": position 6 is not a record index of this split`},
		{"position before the split", "split-3-of-4", []byte{0, 0, 0, 0, 0, 0, 0, 2}, "position 2 is not a record index"},
		{"short position", "split-1-of-4", []byte{1}, "position of 1 bytes, want 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Open(context.Background(), tt.split, tt.pos, env(runtime.SystemClock{}))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%q, %x) error = %v, want one with %q", tt.split, tt.pos, err, tt.want)
			}
		})
	}
}

// BenchmarkRead measures generating ~100-byte records (key + 100-byte value)
// into a batch of 1024.
func BenchmarkRead(b *testing.B) {
	for _, opts := range []string{`{}`, `{"keys":1000000,"splits":4}`} {
		b.Run(opts, func(b *testing.B) {
			s := mustSource(b, opts)
			r, err := s.Open(context.Background(), SplitID(0, int(s.splits)), nil, env(runtime.SystemClock{}))
			if err != nil {
				b.Fatal(err)
			}
			var w abi.Writer
			w.Reset()
			r.Read(context.Background(), &w, 1024) // size the buffer
			records := 0
			b.ReportAllocs()
			for b.Loop() {
				w.Reset()
				n, _ := r.Read(context.Background(), &w, 1024)
				records += n
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(records), "ns/record")
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

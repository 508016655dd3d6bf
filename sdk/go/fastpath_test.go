package weir_test

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/internal/wire"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// The tests of this file check the SDK's per-record fast paths against what
// they stand for: the inline encoding of the 8-byte codecs in ValueState, the
// number of host calls a state read takes, and the inline decoding of input
// batches.

// int64Plain is an Int64 codec that the SDK does not recognise, so that a
// ValueState over it takes the Codec interface path.
type int64Plain struct{}

func (int64Plain) Append(dst []byte, v int64) ([]byte, error) { return weir.Int64.Append(dst, v) }
func (int64Plain) Decode(src []byte) (int64, error)           { return weir.Int64.Decode(src) }

var (
	fixedInt64   = weir.NewValueState("fixed-int64", weir.Int64)
	fixedUint64  = weir.NewValueState("fixed-uint64", weir.Uint64)
	fixedFloat64 = weir.NewValueState("fixed-float64", weir.Float64)
	plainInt64   = weir.NewValueState("plain-int64", weir.Codec[int64](int64Plain{}))
	// sameAsInt64 shares fixedInt64's name to store bytes that are not 8.
	sameAsInt64 = weir.NewValueState("fixed-int64", weir.String)
)

// fixedCase is a ValueState of one of the codecs with a value to set.
type fixedCase struct {
	name  string
	state string
	want  []byte // the bytes stored for the value
	set   func(ctx *weir.Context) error
	get   func(ctx *weir.Context) (string, bool, error)
	value string // the value as Get returns it, formatted with fmt.Sprint
}

func fixedRow[T any](name string, s *weir.ValueState[T], c weir.Codec[T], v T) fixedCase {
	return fixedCase{
		name: name, state: s.Name(), want: mustAppend(c, v), value: fmt.Sprint(v),
		set: func(ctx *weir.Context) error { return s.Set(ctx, v) },
		get: func(ctx *weir.Context) (string, bool, error) {
			got, ok, err := s.Get(ctx)
			return fmt.Sprint(got), ok, err
		},
	}
}

// TestValueStateFixedCodecs checks that ValueState stores and reads the SDK's
// 8-byte codecs (which it encodes inline) exactly as the codecs themselves do,
// and that a stored value of the wrong size is a codec error.
func TestValueStateFixedCodecs(t *testing.T) {
	tests := []fixedCase{
		fixedRow("int64 min", fixedInt64, weir.Int64, math.MinInt64),
		fixedRow("int64 -1", fixedInt64, weir.Int64, -1),
		fixedRow("int64 max", fixedInt64, weir.Int64, math.MaxInt64),
		fixedRow("uint64 max", fixedUint64, weir.Uint64, math.MaxUint64),
		fixedRow("float64 -1.5", fixedFloat64, weir.Float64, -1.5),
		fixedRow("float64 smallest", fixedFloat64, weir.Float64, math.SmallestNonzeroFloat64),
		fixedRow("float64 -Inf", fixedFloat64, weir.Float64, math.Inf(-1)),
		fixedRow("codec the SDK does not know", plainInt64, weir.Codec[int64](int64Plain{}), 42),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			var found bool
			h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
				if string(r.Value) == "set" {
					return tt.set(ctx)
				}
				var err error
				got, found, err = tt.get(ctx)
				return err
			}), nil)
			h.Process(rec("k", "get", 1, 1))
			if found {
				t.Fatalf("Get before Set found %s", got)
			}
			h.Process(rec("k", "set", 2, 2))
			if kv := h.State(tt.state, []byte("k")); len(kv) != 1 || !bytes.Equal(kv[0].Value, tt.want) {
				t.Fatalf("stored %x, want %x", kv, tt.want)
			}
			h.Process(rec("k", "get", 3, 3))
			if !found || got != tt.value {
				t.Fatalf("Get = %s, %v; want %s, true", got, found, tt.value)
			}
		})
	}

	h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
		if err := sameAsInt64.Set(ctx, "abc"); err != nil {
			return err
		}
		_, _, err := fixedInt64.Get(ctx)
		return err
	}), nil)
	err := h.TryProcess(rec("k", "", 1, 1))
	wantBatchError(t, err, 0, weir.ErrorCode)
	if !strings.Contains(err.Error(), `value state "fixed-int64": weir: Int64 codec: got 3 bytes, want 8`) {
		t.Fatalf("error %q does not say the stored value has the wrong size", err)
	}
}

func mustAppend[T any](c weir.Codec[T], v T) []byte {
	b, err := c.Append(nil, v)
	if err != nil {
		panic(err)
	}
	return b
}

// stateCallCounter counts the state calls that reach the host.
type stateCallCounter struct {
	weir.NativeHost
	gets, puts int
}

func (c *stateCallCounter) StateGet(entry uint32, name, userKey []byte) ([]byte, uint32) {
	c.gets++
	return c.NativeHost.StateGet(entry, name, userKey)
}

func (c *stateCallCounter) StatePut(entry uint32, name, userKey, value []byte) uint32 {
	c.puts++
	return c.NativeHost.StatePut(entry, name, userKey, value)
}

var (
	blob    = weir.NewValueState("blob", weir.Bytes)
	counter = weir.NewValueState("counter", weir.Int64)
)

// TestStateGetCalls checks how many state_get calls a read takes (ABI §5: a
// value larger than the buffer is read again with room for it): one for a
// value that fits the instance's buffer (4 KiB at first, then as large as the
// largest value read up to 1 MiB), two for a larger one, every time. And a
// ValueState Get then Set is exactly one state_get and one state_put.
func TestStateGetCalls(t *testing.T) {
	cc := &stateCallCounter{}
	var got []byte
	h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
		cmd, arg, _ := strings.Cut(string(r.Value), " ")
		switch cmd {
		case "set":
			var n int
			fmt.Sscan(arg, &n)
			return blob.Set(ctx, bytes.Repeat([]byte{byte(n)}, n))
		case "get":
			v, _, err := blob.Get(ctx)
			got = v
			return err
		}
		n, _, err := counter.Get(ctx)
		if err != nil {
			return err
		}
		return counter.Set(ctx, n+1)
	}), nil, weirtest.WrapHost(func(nh weir.NativeHost) weir.NativeHost { cc.NativeHost = nh; return cc }))

	tests := []struct {
		name       string
		size       int
		firstCalls int // state_get calls of the first read
		againCalls int // and of the next one
	}{
		{"empty", 0, 1, 1},
		{"fits the first buffer", 4 << 10, 1, 1},
		{"one byte more", 4<<10 + 1, 2, 1},
		{"100 KiB", 100 << 10, 2, 1},
		{"smaller than the buffer grown to", 5 << 10, 1, 1},
		{"over the retained size", 2 << 20, 2, 2},
		{"back under it", 100 << 10, 1, 1},
	}
	for _, tt := range tests {
		h.Process(rec("k", fmt.Sprint("set ", tt.size), 1, 1))
		for i, want := range []int{tt.firstCalls, tt.againCalls} {
			cc.gets = 0
			h.Process(rec("k", "get", 2, 2))
			if cc.gets != want {
				t.Errorf("%s: read %d took %d state_get calls, want %d", tt.name, i+1, cc.gets, want)
			}
			if len(got) != tt.size || (tt.size > 0 && got[tt.size-1] != byte(tt.size)) {
				t.Fatalf("%s: read %d returned %d bytes, want %d", tt.name, i+1, len(got), tt.size)
			}
		}
	}

	cc.gets, cc.puts = 0, 0
	h.Process(rec("k", "count", 3, 3), rec("k", "count", 4, 4))
	if cc.gets != 2 || cc.puts != 2 {
		t.Errorf("two ValueState Get+Set took %d state_get and %d state_put calls, want 2 and 2", cc.gets, cc.puts)
	}
}

// TestMalformedEntries checks what the inline batch decoding reports for a
// batch that is not valid (ABI §4.3): an entry that runs past the end fails
// the batch with Malformed and the wire package's account of it, after the
// entries before it ran; an unknown entry kind fails at that entry.
func TestMalformedEntries(t *testing.T) {
	var seen []string
	h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
		seen = append(seen, string(r.Key))
		return nil
	}), nil)
	batch := func(kind2 uint8) []byte {
		var w wire.Writer
		w.Append(wire.KindRecord, []byte("a"), []byte("1"), nil, 1, 1)
		w.Append(kind2, []byte("b"), []byte("2"), nil, 2, 2)
		return bytes.Clone(w.Bytes())
	}
	tests := []struct {
		name      string
		batch     []byte
		wantEntry int
		wantMsg   string
	}{
		{"entry runs past the end", func() []byte { b := batch(wire.KindRecord); return b[:len(b)-1] }(), -1,
			"input batch: malformed batch: entry 1: length: key 1 + value 1 + headers 0 bytes at byte 66 run past the batch end (99 bytes)"},
		{"entry header cut", func() []byte { b := batch(wire.KindRecord); return b[:66+10] }(), -1,
			"input batch: malformed batch: entry 1: header: entry header at byte 66 runs past the batch end (76 bytes)"},
		{"unknown kind", batch(3), 1, "input batch: unknown entry kind 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen = nil
			err := h.ProcessBatch(tt.batch)
			wantBatchError(t, err, tt.wantEntry, weir.Malformed)
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not say %q", err, tt.wantMsg)
			}
			if len(seen) != 1 || seen[0] != "a" {
				t.Fatalf("processed %q before the failure, want [a]", seen)
			}
		})
	}
}

// batchCapture keeps a copy of each batch emitted to the host, per port.
type batchCapture struct {
	weir.NativeHost
	batches map[uint32][][]byte
}

func (c *batchCapture) Emit(port uint32, batch []byte) uint32 {
	c.batches[port] = append(c.batches[port], bytes.Clone(batch))
	return c.NativeHost.Emit(port, batch)
}

// TestEmitEncoding checks the bytes of the batches Emit and EmitTo build in
// place against wire.Writer's encoding of the same records (ABI §4): keys and
// values of every size class, headers, inherited and explicit timestamps and
// tracking ids.
func TestEmitEncoding(t *testing.T) {
	emitted := []struct {
		port int
		r    weir.Record
	}{
		{0, weir.Record{Key: []byte("k"), Value: []byte("v")}},
		{0, weir.Record{}},
		{0, weir.Record{Key: bytes.Repeat([]byte("K"), 5000), Value: bytes.Repeat([]byte("V"), 9000), Timestamp: weir.NoTimestamp, TrackingID: 99}},
		{3, weir.Record{Key: []byte("h"), Value: []byte("with headers"), Headers: weir.AppendHeader(weir.AppendHeader(nil, "a", []byte("1")), "b", nil), Timestamp: -5}},
		{0, weir.Record{Value: []byte("after")}},
		{3, weir.Record{Key: []byte("plain on 3")}},
	}
	capture := &batchCapture{batches: map[uint32][][]byte{}}
	h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
		for _, e := range emitted {
			if e.port == 0 {
				ctx.Emit(e.r)
			} else {
				ctx.EmitTo(e.port, e.r)
			}
		}
		return nil
	}), nil, weirtest.WrapHost(func(nh weir.NativeHost) weir.NativeHost { capture.NativeHost = nh; return capture }))
	for range 2 { // the second batch reuses the buffers
		clear(capture.batches)
		h.Process(rec("in", "x", 1234, 77))
		want := map[uint32]*wire.Writer{}
		for _, e := range emitted {
			w := want[uint32(e.port)]
			if w == nil {
				w = new(wire.Writer)
				want[uint32(e.port)] = w
			}
			ts, tid := e.r.Timestamp, e.r.TrackingID
			if ts == 0 {
				ts = 1234
			}
			if tid == 0 {
				tid = 77
			}
			w.Append(wire.KindRecord, e.r.Key, e.r.Value, e.r.Headers, ts, tid)
		}
		for port, w := range want {
			got := capture.batches[port]
			if len(got) != 1 || !bytes.Equal(got[0], w.Bytes()) {
				t.Fatalf("port %d: emitted %d batches\n%x\nwant one\n%x", port, len(got), got, w.Bytes())
			}
		}
	}
}

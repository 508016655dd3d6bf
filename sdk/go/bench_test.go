package weir_test

import (
	"fmt"
	"strconv"
	"testing"

	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/internal/wire"
)

// benchBatchRecords is the number of records per benchmark batch.
const benchBatchRecords = 1000

// benchHost is the least a keyed host can do: one map for every state, keyed
// by (entry key, name, user key), and emits that are only counted. It keeps the
// benchmarks about the SDK's cost, not the host's.
type benchHost struct {
	keys    [][]byte
	state   map[string][]byte
	scratch []byte
	emitted int
}

func (h *benchHost) id(entry uint32, name, userKey []byte) []byte {
	h.scratch = append(h.scratch[:0], h.keys[entry]...)
	h.scratch = append(h.scratch, 0)
	h.scratch = append(h.scratch, name...)
	h.scratch = append(h.scratch, 0)
	return append(h.scratch, userKey...)
}

func (h *benchHost) StateGet(entry uint32, name, userKey []byte) ([]byte, uint32) {
	v, ok := h.state[string(h.id(entry, name, userKey))]
	if !ok {
		return nil, uint32(weir.NotFound)
	}
	return v, 0
}

func (h *benchHost) StatePut(entry uint32, name, userKey, value []byte) uint32 {
	id := h.id(entry, name, userKey)
	if v, ok := h.state[string(id)]; ok && len(v) == len(value) {
		copy(v, value) // in place: no map assignment, so no key allocation
		return 0
	}
	h.state[string(id)] = append([]byte(nil), value...)
	return 0
}

func (h *benchHost) StateDelete(entry uint32, name, userKey []byte) uint32 {
	delete(h.state, string(h.id(entry, name, userKey)))
	return 0
}

func (h *benchHost) StateClear(uint32, []byte) uint32 { return uint32(weir.Internal) }

func (h *benchHost) StateScan(uint32, []byte, []byte, func(userKey, value []byte) bool) uint32 {
	return uint32(weir.Internal)
}

func (h *benchHost) TimerSet(uint32, uint32, int64) uint32    { return 0 }
func (h *benchHost) TimerDelete(uint32, uint32, int64) uint32 { return 0 }

func (h *benchHost) Emit(port uint32, batch []byte) uint32 {
	h.emitted += len(batch)
	return 0
}

func (h *benchHost) Log(int32, []byte) {}

func (h *benchHost) Call(uint32, []byte, []byte, []byte) ([]byte, uint32) {
	return nil, uint32(weir.NotFound)
}

// benchBatch returns a batch of benchBatchRecords records over nKeys keys, and
// the key of each entry.
func benchBatch(nKeys int) ([]byte, [][]byte) {
	var w wire.Writer
	w.SetWatermark(1000)
	keys := make([][]byte, benchBatchRecords)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "user-%04d", i%nKeys)
		w.Append(wire.KindRecord, keys[i], []byte("some event payload of a typical size, about sixty-four bytes"), nil, int64(i), uint64(i+1))
	}
	return w.Bytes(), keys
}

func runBench(b *testing.B, op weir.Operator, nKeys int) {
	n, err := weir.NewNative(op, nil)
	if err != nil {
		b.Fatal(err)
	}
	batch, keys := benchBatch(nKeys)
	h := &benchHost{keys: keys, state: map[string][]byte{}}
	if err := n.Process(batch, h); err != nil { // warm the buffers and the state
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := n.Process(batch, h); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*benchBatchRecords/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkNativeNoop is an operator that does nothing: the SDK's fixed cost
// per entry (decoding, the Record, dispatch) and per batch.
func BenchmarkNativeNoop(b *testing.B) {
	runBench(b, weir.Operator{Process: func(*weir.Context, weir.Record) error { return nil }}, 100)
}

// BenchmarkNativeEmit emits every record as it is: BenchmarkNativeNoop plus an
// Emit per record and one host emit per batch.
func BenchmarkNativeEmit(b *testing.B) {
	runBench(b, weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
		ctx.Emit(weir.Record{Key: r.Key, Value: r.Value})
		return nil
	}}, 100)
}

// BenchmarkNativeMap is a stateless map (ASCII upper case of the value) over
// batches of 1000 records: decode, dispatch, emit buffering and one emit call
// per batch.
func BenchmarkNativeMap(b *testing.B) {
	var buf []byte // the operator's scratch; one instance runs here
	runBench(b, weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
		buf = append(buf[:0], r.Value...)
		for i, c := range buf {
			if 'a' <= c && c <= 'z' {
				buf[i] = c - ('a' - 'A')
			}
		}
		ctx.Emit(weir.Record{Key: r.Key, Value: buf})
		return nil
	}}, 100)
}

var benchCount = weir.NewValueState("count", weir.Int64)

// BenchmarkNativeKeyedCount is a keyed count (a value state read and written per
// record, and the count emitted) over batches of 1000 records on 100 keys.
func BenchmarkNativeKeyedCount(b *testing.B) {
	var buf []byte
	runBench(b, weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
		n, _, err := benchCount.Get(ctx)
		if err != nil {
			return err
		}
		n++
		if err := benchCount.Set(ctx, n); err != nil {
			return err
		}
		buf = strconv.AppendInt(buf[:0], n, 10)
		ctx.Emit(weir.Record{Key: r.Key, Value: buf})
		return nil
	}}, 100)
}

package host

import (
	"context"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// benchEnv is an Env that does as little as possible, so that benchmarks
// measure the host and the guest.
type benchEnv struct {
	value   []byte
	emitted int
}

func (b *benchEnv) StateGet(uint32, []byte, []byte) ([]byte, uint32) { return b.value, 0 }
func (b *benchEnv) StatePut(uint32, []byte, []byte, []byte) uint32   { return 0 }
func (b *benchEnv) StateDelete(uint32, []byte, []byte) uint32        { return 0 }
func (b *benchEnv) StateClear(uint32, []byte) uint32                 { return 0 }
func (b *benchEnv) TimerSet(uint32, uint32, int64) uint32            { return 0 }
func (b *benchEnv) TimerDelete(uint32, uint32, int64) uint32         { return 0 }
func (b *benchEnv) Emit(_ uint32, batch []byte) uint32               { b.emitted += abi.Count(batch); return 0 }
func (b *benchEnv) Log(int32, []byte)                                {}
func (b *benchEnv) Call(uint32, []byte, []byte, []byte) ([]byte, uint32) {
	return nil, uint32(abi.NotFound)
}
func (b *benchEnv) StateScan(uint32, []byte, []byte, func(userKey, value []byte) bool) uint32 {
	return 0
}

// contexts are the two kinds of caller context: one that is never done, and
// a cancellable one (what the runtime passes), which costs a
// context.AfterFunc per call.
var contexts = []struct {
	name string
	ctx  func() (context.Context, context.CancelFunc)
}{
	{"ctx=background", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
	{"ctx=cancellable", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
}

// BenchmarkProcessBatch runs batches of 1000 records of ~100 bytes through
// the echo guest: as a pass-through, which copies every record into one
// emitted batch per call (the host validates that batch and hands it to the
// Env), and as a filter that keeps one record in ten.
func BenchmarkProcessBatch(b *testing.B) {
	const records = 1000
	e := newTestEngine(b, Config{})
	m := loadGuest(b, e, "echo", Limits{})
	var w abi.Writer
	w.Reset()
	for i := range records {
		w.Append(abi.Entry{Key: []byte(fmt.Sprintf("user-%05d", i)), Value: make([]byte, 58), Timestamp: int64(i), TrackingID: uint64(i)})
	}
	batch := w.Bytes()
	for _, mode := range []struct {
		name   string
		config string
		kept   int
	}{{"guest=passthrough", "", records}, {"guest=filter", "filter", records / 10}} {
		for _, c := range contexts {
			b.Run(mode.name+"/"+c.name, func(b *testing.B) {
				op := newOperator(b, m, runtime.OperatorInfo{Name: "echo", Config: []byte(mode.config)})
				env := &benchEnv{}
				ctx, cancel := c.ctx()
				defer cancel()
				b.SetBytes(int64(len(batch)))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if err := op.Process(ctx, batch, env); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
				if env.emitted != b.N*mode.kept {
					b.Fatalf("emitted %d records, want %d", env.emitted, b.N*mode.kept)
				}
			})
		}
	}
}

// BenchmarkHostCall measures one state_get from the guest: each batch holds
// one command that makes the state guest call state_get 10000 times.
func BenchmarkHostCall(b *testing.B) {
	const calls = 10000
	e := newTestEngine(b, Config{})
	m := loadGuest(b, e, "state", Limits{})
	op := newOperator(b, m, runtime.OperatorInfo{Name: "bench", Keyed: true})
	env := &benchEnv{value: []byte("8 bytes!")}
	batch := batchOf("k", fmt.Sprintf("bench %d", calls))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := op.Process(context.Background(), batch, env); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*calls), "ns/call")
}

// BenchmarkInstanceLookup compares the two ways a host function can find its
// instance: the value in the call's context (what the host does) and a map
// keyed by the calling api.Module.
func BenchmarkInstanceLookup(b *testing.B) {
	e := newTestEngine(b, Config{})
	m := loadGuest(b, e, "echo", Limits{})
	op := newOperator(b, m, runtime.OperatorInfo{Name: "lookup"}).(*operator)
	in := op.inst
	b.Run("context", func(b *testing.B) {
		ctx := in.ctx
		for range b.N {
			if ctx.Value(instanceKey{}).(*instance) != in {
				b.Fatal("wrong instance")
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		byModule := map[api.Module]*instance{in.mod: in}
		for i := range 100 { // other instances of the engine
			other := newOperator(b, m, runtime.OperatorInfo{Name: "other", Subtask: i}).(*operator)
			byModule[other.inst.mod] = other.inst
		}
		var mod api.Module = in.mod
		b.ResetTimer()
		for range b.N {
			if byModule[mod] != in {
				b.Fatal("wrong instance")
			}
		}
	})
}

package extism

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
)

// benchEnv is an Env that counts emitted records and does nothing else.
type benchEnv struct{ emitted int }

func (b *benchEnv) StateGet(uint32, []byte, []byte) ([]byte, uint32) {
	return nil, uint32(abi.NotFound)
}
func (b *benchEnv) StatePut(uint32, []byte, []byte, []byte) uint32 { return 0 }
func (b *benchEnv) StateDelete(uint32, []byte, []byte) uint32      { return 0 }
func (b *benchEnv) StateClear(uint32, []byte) uint32               { return 0 }
func (b *benchEnv) TimerSet(uint32, uint32, int64) uint32          { return 0 }
func (b *benchEnv) TimerDelete(uint32, uint32, int64) uint32       { return 0 }
func (b *benchEnv) Emit(_ uint32, batch []byte) uint32             { b.emitted += abi.Count(batch); return 0 }
func (b *benchEnv) Log(int32, []byte)                              {}
func (b *benchEnv) Call(uint32, []byte, []byte, []byte) ([]byte, uint32) {
	return nil, uint32(abi.NotFound)
}
func (b *benchEnv) StateScan(uint32, []byte, []byte, func(userKey, value []byte) bool) uint32 {
	return 0
}

// BenchmarkStateless compares the per-record cost of one stateless operator
// (package evenkeys of the test plugins: keep the records whose key ends in
// an even digit, upper-case the first byte of their value) on the two paths,
// over batches of records of 100 bytes (32-byte entry header, 10-byte key,
// 58-byte value), half of which it keeps:
//
//   - path=extism: the Extism plugin filter (go-pdk), through this adapter;
//   - path=abi: the Weir ABI guest abifilter, which runs the same evenkeys
//     code, through host.Engine;
//   - path=abi-sdk: the same logic written with the Weir Go SDK
//     (internal/enginebench/filter), through host.Engine.
//
// records=1 shows the fixed cost of a call; records=1000 the cost per record
// of a full batch.
func BenchmarkStateless(b *testing.B) {
	ctx := context.Background()
	engine, err := host.NewEngine(ctx, host.Config{CacheDir: filepath.Join(os.TempDir(), "weir-extism-bench-cache"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer engine.Close(ctx)
	native := func(wasmPath string) runtime.OperatorFactory {
		wasm, err := os.ReadFile(wasmPath)
		if err != nil {
			b.Fatal(err)
		}
		m, err := engine.Load(ctx, filepath.Base(wasmPath), wasm, host.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	paths := []struct {
		name    string
		factory runtime.OperatorFactory
	}{
		{"extism", sharedPlugin(b, "filter")},
		{"abi", native(wasmbuild.MustGoModule(b, pluginsModule, "./abifilter"))},
		{"abi-sdk", native(wasmbuild.MustGo(b, "../../internal/enginebench/filter/wasm"))},
	}
	for _, records := range []int{1, 1000} {
		var w abi.Writer
		w.Reset()
		for i := range records {
			w.Append(abi.Entry{Key: fmt.Appendf(nil, "user-%05d", i), Value: make([]byte, 58), Timestamp: int64(i), TrackingID: uint64(i + 1)})
		}
		batch := w.Bytes()
		kept := (records + 1) / 2
		for _, p := range paths {
			b.Run(fmt.Sprintf("path=%s/records=%d", p.name, records), func(b *testing.B) {
				op, err := p.factory.NewOperator(ctx, runtime.OperatorInfo{Name: "bench", Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				defer op.Close()
				env := &benchEnv{}
				// NB: the runtime's context can be cancelled; so is this one.
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				b.SetBytes(int64(len(batch)))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if err := op.Process(ctx, batch, env); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
				if env.emitted != b.N*kept {
					b.Fatalf("emitted %d records, want %d", env.emitted, b.N*kept)
				}
			})
		}
	}
}

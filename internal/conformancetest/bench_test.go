package conformancetest

import (
	"context"
	"fmt"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
)

// benchBatchRecords is the number of records per benchmark batch.
const benchBatchRecords = 1000

// benchEnv is the least a keyed runtime.Env can do: one map for all state and
// emits that are only counted, so that the benchmark measures the guest and
// the Wasm boundary.
type benchEnv struct {
	keys    [][]byte
	state   map[string][]byte
	scratch []byte
}

func (e *benchEnv) id(entry uint32, name, userKey []byte) []byte {
	e.scratch = append(append(append(append(e.scratch[:0], e.keys[entry]...), 0), name...), 0)
	return append(e.scratch, userKey...)
}

func (e *benchEnv) StateGet(entry uint32, name, userKey []byte) ([]byte, uint32) {
	v, ok := e.state[string(e.id(entry, name, userKey))]
	if !ok {
		return nil, uint32(abi.NotFound)
	}
	return v, 0
}

func (e *benchEnv) StatePut(entry uint32, name, userKey, value []byte) uint32 {
	id := e.id(entry, name, userKey)
	if v, ok := e.state[string(id)]; ok && len(v) == len(value) {
		copy(v, value)
		return 0
	}
	e.state[string(id)] = append([]byte(nil), value...)
	return 0
}

func (e *benchEnv) StateDelete(uint32, []byte, []byte) uint32 { return uint32(abi.Internal) }
func (e *benchEnv) StateClear(uint32, []byte) uint32          { return uint32(abi.Internal) }
func (e *benchEnv) StateScan(uint32, []byte, []byte, func(userKey, value []byte) bool) uint32 {
	return uint32(abi.Internal)
}
func (e *benchEnv) TimerSet(uint32, uint32, int64) uint32    { return 0 }
func (e *benchEnv) TimerDelete(uint32, uint32, int64) uint32 { return 0 }
func (e *benchEnv) Emit(uint32, []byte) uint32               { return 0 }
func (e *benchEnv) Log(int32, []byte)                        {}
func (*benchEnv) Call(uint32, []byte, []byte, []byte) ([]byte, uint32) {
	return nil, uint32(abi.NotFound)
}

// benchWasm runs batches of 1000 records over 100 keys through the Wasm build
// of a Go reference operator in the real host.
func benchWasm(b *testing.B, operator string, value func(i int) string) {
	benchGuest(b, filepath.Join(operatorDir, operator, "wasm"), nil, value)
}

// benchGuest runs batches of benchBatchRecords records over 100 keys through
// the Wasm module built from the Go package in dir, configured with config,
// in the real host with a benchEnv (see benchOperator).
func benchGuest(b *testing.B, dir string, config []byte, value func(i int) string) {
	benchOperator(b, wasmFactory(b, filepath.Base(filepath.Dir(dir)), wasmbuild.MustGo(b, dir)), config, value)
}

// wasmFactory loads the module at path into an engine that lives as long as
// the benchmark.
func wasmFactory(b *testing.B, name, path string) runtime.OperatorFactory {
	b.Helper()
	return loadModule(b, newEngine(b, host.Config{}), name, path, host.Limits{})
}

// benchOperator runs batches of benchBatchRecords records over 100 keys
// through an instance of f (a Wasm module in the real host, or a native
// operator), configured with config, with a benchEnv. Besides records/s
// (wall clock, which a busy machine distorts) it reports the CPU time of the
// benchmark's thread per record, which is where the guest and the host
// functions run.
func benchOperator(b *testing.B, f runtime.OperatorFactory, config []byte, value func(i int) string) {
	ctx := context.Background()
	op, err := f.NewOperator(ctx, runtime.OperatorInfo{Name: b.Name(), Keyed: true, Config: config})
	if err != nil {
		b.Fatal(err)
	}
	defer op.Close()
	var w abi.Writer
	w.Reset()
	env := &benchEnv{state: map[string][]byte{}}
	for i := range benchBatchRecords {
		k := fmt.Appendf(nil, "user-%04d", i%100)
		env.keys = append(env.keys, k)
		w.Append(abi.Entry{Key: k, Value: []byte(value(i)), Timestamp: int64(i), TrackingID: uint64(i + 1)})
	}
	batch := w.Bytes()
	if err := op.Process(ctx, batch, env); err != nil {
		b.Fatal(err)
	}
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := threadCPU()
	for range b.N {
		if err := op.Process(ctx, batch, env); err != nil {
			b.Fatal(err)
		}
	}
	cpu1, _ := threadCPU()
	b.StopTimer()
	records := float64(b.N) * benchBatchRecords
	b.ReportMetric(records/b.Elapsed().Seconds(), "records/s")
	if cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/records, "cpu-ns/record")
	}
}

// BenchmarkWasmUpper is the stateless map (upper) in Wasm.
func BenchmarkWasmUpper(b *testing.B) {
	benchWasm(b, "upper", func(int) string { return "some event payload of a typical size, about sixty-four bytes" })
}

// BenchmarkWasmRunningSum is a keyed value-state read and write per record
// (runningsum) in Wasm.
func BenchmarkWasmRunningSum(b *testing.B) {
	benchWasm(b, "runningsum", func(i int) string { return "1" })
}

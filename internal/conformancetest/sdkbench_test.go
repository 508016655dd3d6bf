package conformancetest

import "testing"

// The benchmarks of this file measure the Go SDK's per-record path in the Wasm
// build, through the real host with a benchEnv: the floor of a Go guest
// without the SDK (raw), the SDK's fixed cost per entry (noop), an Emit
// (emit), a host call (timerset) and a ValueState Get and Set (getset), what
// one allocation per record costs (alloc), and the two operators of the engine
// benchmarks (internal/enginebench): the stateless map+filter and the keyed
// running count. Compare cpu-ns/record, the CPU time of the calling thread
// per record, which a busy machine distorts far less than records/s; the
// guests are in testdata/bench.
//
//	go test -run '^$' -bench 'Wasm' -benchtime 2000x ./internal/conformancetest/

const benchValue = "some event payload of a typical size, about sixty-four bytes"

func constValue(int) string { return benchValue }

// BenchmarkWasmSDKNoop is an operator that does nothing: decoding, dispatch
// and the cursor of each entry, and the call into the guest per batch.
func BenchmarkWasmSDKNoop(b *testing.B) {
	benchGuest(b, "testdata/bench/noop", nil, constValue)
}

// BenchmarkWasmSDKEmit emits every record as it is: BenchmarkWasmSDKNoop plus
// one Emit per record and one emit host call per batch.
func BenchmarkWasmSDKEmit(b *testing.B) {
	benchGuest(b, "testdata/bench/emit", nil, constValue)
}

// BenchmarkWasmFilter is the stateless operator of the engine benchmarks
// (internal/enginebench/filter): it emits half the records, with the first
// byte of the value upper-cased.
func BenchmarkWasmFilter(b *testing.B) {
	benchGuest(b, "../enginebench/filter/wasm", nil, constValue)
}

// BenchmarkWasmCountRunning is the keyed operator of the engine benchmarks
// (examples/wordcount/count in running mode): a ValueState[int64] read and
// written per record, and the count emitted.
func BenchmarkWasmCountRunning(b *testing.B) {
	benchGuest(b, "../../examples/wordcount/count/wasm", []byte(`{"mode":"running"}`), constValue)
}

// BenchmarkWasmSDKGetSet reads and writes a ValueState[int64] per record: one
// state_get and one state_put host call.
func BenchmarkWasmSDKGetSet(b *testing.B) {
	benchGuest(b, "testdata/bench/getset", nil, constValue)
}

// BenchmarkWasmSDKTimerSet sets a timer per record: one host call whose Env
// side does nothing.
func BenchmarkWasmSDKTimerSet(b *testing.B) {
	benchGuest(b, "testdata/bench/timerset", nil, constValue)
}

// BenchmarkWasmSDKAlloc allocates a value-sized slice per record, to show what
// a per-record allocation costs in a Go guest.
func BenchmarkWasmSDKAlloc(b *testing.B) {
	benchGuest(b, "testdata/bench/alloc", nil, constValue)
}

// BenchmarkWasmRaw is the floor: a Go guest without the SDK that only walks
// the batch.
func BenchmarkWasmRaw(b *testing.B) {
	benchGuest(b, "testdata/bench/raw", nil, constValue)
}

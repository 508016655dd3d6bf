package conformancetest

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// The tests of this file check properties of the Go SDK's per-record path
// that only the Wasm build shows: no heap allocation, and one host call per
// state access.

// TestWasmSteadyStateAllocs checks that the Go SDK's per-record paths make no
// heap allocation in the Wasm build once their buffers have grown: value,
// map and reducing state reads and writes, Emit, EmitTo with headers and
// timers, over batches of 1000 records. An allocation per record would run
// the guest's garbage collector, which is the costliest thing a Go guest can
// do per record (see BenchmarkWasmSDKAlloc).
func TestWasmSteadyStateAllocs(t *testing.T) {
	h := guestHarness(t, host.Config{}, "allocguest", wasmbuild.MustGo(t, "testdata/allocguest"), runtime.OperatorInfo{Name: "allocguest", Keyed: true})

	batch := allocBatch()
	mallocs := func() uint64 { t.Helper(); return countQuery(t, h, "m", "mallocs") }

	h.Process(batch...) // grows the SDK's buffers
	if got := len(h.Output(0)) + len(h.Output(2)); got != 2*len(batch) {
		t.Fatalf("warm-up batch emitted %d records, want %d", got, 2*len(batch))
	}
	mallocs() // NB: the first query allocates (in the runtime's ReadMemStats)
	before := mallocs()
	const batches = 5
	for range batches {
		h.Process(batch...)
	}
	after := mallocs()
	if n := after - before; n != 0 {
		t.Errorf("%d heap allocations in %d batches of %d records (and one query), want 0", n, batches, len(batch))
	}
}

// allocBatch returns the batch of the steady-state allocation tests: 1000
// records over 100 keys, every third with a header.
func allocBatch() []weir.Record {
	batch := make([]weir.Record, 1000)
	for i := range batch {
		batch[i] = weir.Record{
			Key:        fmt.Appendf(nil, "user-%04d", i%100),
			Value:      fmt.Appendf(nil, "payload %d", i%7),
			Timestamp:  int64(i),
			TrackingID: uint64(i + 1),
		}
		if i%3 == 0 {
			batch[i].Headers = weir.AppendHeader(nil, "trace", []byte("abc"))
		}
	}
	return batch
}

// countQuery clears h's output, sends the record (key, cmd) and returns the
// number that the guest emits for it, the only record on port 1.
func countQuery(t *testing.T, h *weirtest.Harness, key, cmd string) uint64 {
	t.Helper()
	h.ClearOutput()
	h.Process(weir.Record{Key: []byte(key), Value: []byte(cmd)})
	out := h.Output(1)
	if len(out) != 1 {
		t.Fatalf("%s query: got %d records on port 1, want 1", cmd, len(out))
	}
	n, err := strconv.ParseUint(string(out[0].Value), 10, 64)
	if err != nil {
		t.Fatalf("%s query: %v", cmd, err)
	}
	return n
}

// envCallCounter counts the state calls that reach the Env from the guest.
type envCallCounter struct {
	weir.NativeHost
	gets, puts int
}

func (c *envCallCounter) StateGet(entry uint32, name, userKey []byte) ([]byte, uint32) {
	c.gets++
	return c.NativeHost.StateGet(entry, name, userKey)
}

func (c *envCallCounter) StatePut(entry uint32, name, userKey, value []byte) uint32 {
	c.puts++
	return c.NativeHost.StatePut(entry, name, userKey, value)
}

// TestWasmStateCallsPerRecord checks that a ValueState Get then Set in the
// Wasm build is exactly one state_get and one state_put host call per record
// (runningsum reads and writes its sum once per record), on first reads
// (NOT_FOUND) and later ones alike.
func TestWasmStateCallsPerRecord(t *testing.T) {
	cc := &envCallCounter{}
	h := guestHarness(t, host.Config{}, "runningsum", wasmbuild.MustGo(t, filepath.Join(operatorDir, "runningsum", "wasm")),
		runtime.OperatorInfo{Name: "runningsum", Keyed: true},
		weirtest.WrapHost(func(nh weir.NativeHost) weir.NativeHost { cc.NativeHost = nh; return cc }))
	batch := make([]weir.Record, 500)
	for i := range batch {
		batch[i] = weir.Record{Key: fmt.Appendf(nil, "k%d", i%50), Value: []byte("3")}
	}
	for round := range 2 {
		cc.gets, cc.puts = 0, 0
		h.Process(batch...)
		if cc.gets != len(batch) || cc.puts != len(batch) {
			t.Errorf("round %d: %d records took %d state_get and %d state_put calls, want %d of each",
				round, len(batch), cc.gets, cc.puts, len(batch))
		}
	}
	out := h.Output(0)
	if len(out) != 2*len(batch) {
		t.Fatalf("got %d records, want %d", len(out), 2*len(batch))
	}
	if last := string(out[len(out)-1].Value); last != "60" {
		t.Fatalf("the last sum is %q, want 60 (20 records of 3 per key)", last)
	}
}

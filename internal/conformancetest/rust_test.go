package conformancetest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// The tests of this file check what the suite's per-language runs cannot:
// that the Go and the Rust SDK store the same bytes for the same state, so
// that a job can move from an operator built with one to one built with the
// other and keep its state; and the Rust SDK's state_scan chunking through
// the real host. The Rust SDK's own test guests are in sdk/rust/testdata.

// rustTestdata holds the Rust SDK's test guests, relative to this package.
const rustTestdata = "../../sdk/rust/testdata"

// rsEngine returns a host engine closed when t ends.
func rsEngine(t *testing.T) *host.Engine {
	t.Helper()
	ctx := context.Background()
	engine, err := host.NewEngine(ctx, host.Config{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close(ctx) })
	return engine
}

// rsLoad loads the Wasm module at path into engine under name.
func rsLoad(t *testing.T, engine *host.Engine, name, path string) *host.Module {
	t.Helper()
	ctx := context.Background()
	wasm, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := engine.Load(ctx, name, wasm, host.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close(ctx) })
	return mod
}

// rsInstance makes an operator instance of mod, closed when t ends.
func rsInstance(t *testing.T, mod *host.Module, keyed bool, config string) runtime.Operator {
	t.Helper()
	op, err := mod.NewOperator(context.Background(), runtime.OperatorInfo{Name: mod.Name(), Keyed: keyed, Config: []byte(config)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	return op
}

// takingTurns is a weirtest.Processor that hands each batch to the next of
// its operators in turn.
type takingTurns struct {
	ops  []runtime.Operator
	next int
}

func (a *takingTurns) Process(batch []byte, h weir.NativeHost) error {
	op := a.ops[a.next%len(a.ops)]
	a.next++
	return op.Process(context.Background(), batch, h)
}

// TestRustGoTakingTurns runs every behaviour vector with the Go and the Rust
// build of its reference operator taking turns, batch by batch, on one
// harness: each build reads the keyed state and timers the other wrote (the
// running sums, the tumbling windows' accumulators and timers), so the
// vectors pass only if both SDKs store the same bytes and behave the same.
// It runs once starting with Go and once starting with Rust.
func TestRustGoTakingTurns(t *testing.T) {
	engine := rsEngine(t)
	vectors := readVectors(t)
	for _, name := range slices.Sorted(maps.Keys(vectors)) {
		v := vectors[name]
		goMod := rsLoad(t, engine, v.Operator+"-go", build(t, "go", v.Operator))
		rustMod := rsLoad(t, engine, v.Operator+"-rust", build(t, "rust", v.Operator))
		for _, first := range []string{"go", "rust"} {
			t.Run(name+"/"+first+"-first", func(t *testing.T) {
				g, r := rsInstance(t, goMod, v.Keyed, v.Config), rsInstance(t, rustMod, v.Keyed, v.Config)
				turns := &takingTurns{ops: []runtime.Operator{g, r}}
				if first == "rust" {
					turns.ops = []runtime.Operator{r, g}
				}
				opts := []weirtest.Option{weirtest.QuietLogs()}
				if !v.Keyed {
					opts = append(opts, weirtest.Unkeyed())
				}
				h := weirtest.NewProcessor(t, turns, opts...)
				for i, s := range v.Steps {
					_ = runStep(t, h, i, s) // it checks the step's expectation, failures included
				}
				if turns.next < 2 {
					t.Fatalf("%d batches ran: the builds did not take turns", turns.next)
				}
			})
		}
	}
}

// TestRustGoStateCompat has the Go and the Rust twin of the statecompat
// guest (internal/conformancetest/testdata/statecompat and
// sdk/rust/testdata/statecompat.rs) write state of every kind and codec
// (value, map, list, reducing, aggregating; i64, u64, f64, bool, strings,
// bytes), read it back and clear it: each must read what either wrote, clear
// all of it, and both must store the same bytes.
func TestRustGoStateCompat(t *testing.T) {
	engine := rsEngine(t)
	builds := map[string]*host.Module{
		"go":   rsLoad(t, engine, "statecompat-go", wasmbuild.MustGo(t, "testdata/statecompat")),
		"rust": rsLoad(t, engine, "statecompat-rust", wasmbuild.MustRust(t, filepath.Join(rustTestdata, "statecompat.rs"))),
	}
	const want = "v-i64=-5 v-u64=7 v-f64=bff8000000000000 v-bool=true v-str=héllo v-bytes=00ff " +
		"m=[-2:minus two,3:three,1099511627776:big] mf=[bfe0000000000000:1,4002000000000000:2] " +
		"l=[3fe0000000000000,bfd0000000000000,7e37e43c8800759c] l-len=3 r=9 a=401c000000000000"
	const wantCleared = "v-i64=none v-u64=none v-f64=none v-bool=none v-str=none v-bytes=none m=[] mf=[] l=[] l-len=0 r=none a=none"
	names := []string{"v-i64", "v-u64", "v-f64", "v-bool", "v-str", "v-bytes", "m", "mf", "l", "r", "a"}
	key := []byte("k")
	stored := map[string]map[string][]weirtest.KV{} // writer -> state name -> user keys and values
	for _, writer := range []string{"go", "rust"} {
		t.Run(writer+"-writes", func(t *testing.T) {
			turns := &takingTurns{ops: []runtime.Operator{rsInstance(t, builds[writer], true, "")}}
			h := weirtest.NewProcessor(t, turns, weirtest.QuietLogs())
			h.Process(weir.Record{Key: key, Value: []byte("write")})
			stored[writer] = map[string][]weirtest.KV{}
			for _, n := range names {
				if stored[writer][n] = h.State(n, key); len(stored[writer][n]) == 0 {
					t.Errorf("%s wrote nothing to state %q", writer, n)
				}
			}
			for _, reader := range []string{"go", "rust"} {
				turns.ops = []runtime.Operator{rsInstance(t, builds[reader], true, "")}
				h.ClearOutput()
				h.Process(weir.Record{Key: key, Value: []byte("read")})
				if out := h.Output(0); len(out) != 1 || string(out[0].Value) != want {
					t.Errorf("%s reads what %s wrote:\n%swant %q", reader, writer, weirtest.FormatRecords(out), want)
				}
			}
			for _, clearer := range []string{"go", "rust"} {
				turns.ops = []runtime.Operator{rsInstance(t, builds[writer], true, "")}
				h.Process(weir.Record{Key: key, Value: []byte("write")})
				turns.ops = []runtime.Operator{rsInstance(t, builds[clearer], true, "")}
				h.Process(weir.Record{Key: key, Value: []byte("clear")})
				for _, n := range names {
					if kvs := h.State(n, key); len(kvs) != 0 {
						t.Errorf("after %s clears what %s wrote, state %q still has %d user keys", clearer, writer, n, len(kvs))
					}
				}
				h.ClearOutput()
				h.Process(weir.Record{Key: key, Value: []byte("read")})
				if out := h.Output(0); len(out) != 1 || string(out[0].Value) != wantCleared {
					t.Errorf("read after %s clears what %s wrote:\n%swant %q", clearer, writer, weirtest.FormatRecords(out), wantCleared)
				}
			}
		})
	}
	for _, n := range names {
		same := slices.EqualFunc(stored["go"][n], stored["rust"][n], func(a, b weirtest.KV) bool {
			return string(a.UserKey) == string(b.UserKey) && string(a.Value) == string(b.Value)
		})
		if !same {
			t.Errorf("state %q: the Go and the Rust guest store different bytes:\ngo   %q\nrust %q", n, stored["go"][n], stored["rust"][n])
		}
	}
}

// TestRustStateScan ranges over a map state larger than the Rust SDK's first
// scan buffer, with one pair larger than it, through the real state_scan
// host function (ABI §5.1: chunks, continuation after the last key, growth
// on BUFFER_TOO_SMALL), as TestWasmStateScan does for the Go SDK; and checks
// the guest's log message.
func TestRustStateScan(t *testing.T) {
	mod := rsLoad(t, rsEngine(t), "scan", wasmbuild.MustRust(t, filepath.Join(rustTestdata, "scan.rs")))
	var logs bytes.Buffer
	op, err := mod.NewOperator(context.Background(), runtime.OperatorInfo{Name: "scan", Keyed: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	h := weirtest.NewProcessor(t, wasmOperator{op}, weirtest.QuietLogs())
	h.Process(weir.Record{Key: []byte("k"), Value: []byte("fill")})
	h.Process(weir.Record{Key: []byte("k"), Value: []byte("range")})
	if out := h.Output(0); len(out) != 1 || string(out[0].Value) != "300 pairs, 599000 bytes" {
		t.Fatalf("got\n%swant 300 pairs, 599000 bytes", weirtest.FormatRecords(out))
	}
	// The guest logs through the log host function (ABI §5), which the host
	// writes to the operator's logger.
	if want := `level=INFO msg="range read 300 pairs"`; !strings.Contains(logs.String(), want) {
		t.Fatalf("operator log:\n%swant a line with %s", logs.String(), want)
	}
}

// TestRustSteadyStateAllocs checks that the Rust SDK's per-record paths make
// no heap allocation once their buffers have grown: value, map and reducing
// state reads and writes, emit, emit_output with headers and timers, over
// batches of 1000 records (sdk/rust/testdata/allocs.rs counts the module's
// allocations in the SDK's allocator), as TestWasmSteadyStateAllocs does for
// the Go SDK.
func TestRustSteadyStateAllocs(t *testing.T) {
	mod := rsLoad(t, rsEngine(t), "allocs", wasmbuild.MustRust(t, filepath.Join(rustTestdata, "allocs.rs")))
	h := weirtest.NewProcessor(t, wasmOperator{rsInstance(t, mod, true, "")}, weirtest.QuietLogs())
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
	allocations := func() uint64 {
		t.Helper()
		h.ClearOutput()
		h.Process(weir.Record{Key: []byte("q"), Value: []byte("allocations")})
		out := h.Output(1)
		if len(out) != 1 {
			t.Fatalf("allocations query: got %d records on port 1, want 1", len(out))
		}
		n, err := strconv.ParseUint(string(out[0].Value), 10, 64)
		if err != nil {
			t.Fatalf("allocations query: %v", err)
		}
		return n
	}
	h.Process(batch...) // grows the SDK's buffers
	if got := len(h.Output(0)) + len(h.Output(2)); got != 2*len(batch) {
		t.Fatalf("warm-up batch emitted %d records, want %d", got, 2*len(batch))
	}
	allocations() // the first query opens port 1, which allocates its buffer
	before := allocations()
	for range 3 {
		h.Process(batch...)
	}
	if n := allocations() - before; n != 0 {
		t.Fatalf("%d heap allocations in 3 batches of %d records after the warm-up, want 0", n, len(batch))
	}
}

// BenchmarkRustFilter is the stateless map and filter of the engine
// benchmarks (internal/enginebench/rustguest/filter.rs) as a Rust guest,
// per batch through the real host; compare its cpu-ns/record with
// BenchmarkLangFilter's native, Go and C builds:
//
//	go test -run '^$' -bench 'Filter|CountRunning' -benchtime 2000x ./internal/conformancetest/
func BenchmarkRustFilter(b *testing.B) {
	benchOperator(b, wasmFactory(b, "rust-filter", wasmbuild.MustRust(b, "../enginebench/rustguest/filter.rs")), nil, constValue)
}

// BenchmarkRustCountRunning is the keyed running count of the engine
// benchmarks (examples/wordcount-rust/count, a value state read and written
// per record) as a Rust guest; compare with BenchmarkLangCountRunning.
func BenchmarkRustCountRunning(b *testing.B) {
	benchOperator(b, wasmFactory(b, "rust-count", wasmbuild.MustRust(b, "../../examples/wordcount-rust/count")), []byte(`{"mode":"running"}`), constValue)
}

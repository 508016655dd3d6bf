package conformancetest

import (
	"bytes"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
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

// rsInstance makes an operator instance of mod under the module's name,
// closed when t ends.
func rsInstance(t *testing.T, mod *host.Module, keyed bool, config string) runtime.Operator {
	t.Helper()
	return newInstance(t, mod, runtime.OperatorInfo{Name: mod.Name(), Keyed: keyed, Config: []byte(config)})
}

// TestRustGoTakingTurns runs every behaviour vector with the Go and the Rust
// build of its reference operator taking turns, batch by batch, on one
// harness: each build reads the keyed state and timers the other wrote (the
// running sums, the tumbling windows' accumulators and timers), so the
// vectors pass only if both SDKs store the same bytes and behave the same.
// It runs once starting with Go and once starting with Rust.
func TestRustGoTakingTurns(t *testing.T) {
	engine := newEngine(t, host.Config{Logger: quietLogger})
	vectors := readVectors(t)
	for _, name := range slices.Sorted(maps.Keys(vectors)) {
		v := vectors[name]
		goMod := loadModule(t, engine, v.Operator+"-go", build(t, "go", v.Operator), host.Limits{})
		rustMod := loadModule(t, engine, v.Operator+"-rust", build(t, "rust", v.Operator), host.Limits{})
		for _, first := range []string{"go", "rust"} {
			t.Run(name+"/"+first+"-first", func(t *testing.T) {
				turns := &alternating{}
				instances := func() {
					g, r := rsInstance(t, goMod, v.Keyed, v.Config), rsInstance(t, rustMod, v.Keyed, v.Config)
					turns.ops = []runtime.Operator{g, r}
					if first == "rust" {
						turns.ops = []runtime.Operator{r, g}
					}
				}
				instances()
				run := newVectorRun(t, v, turns, instances)
				for i, s := range v.Steps {
					_ = runStep(t, run, i, s) // it checks the step's expectation, failures included
				}
				if turns.batches < 2 {
					t.Fatalf("%d batches ran: the builds did not take turns", turns.batches)
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
	engine := newEngine(t, host.Config{Logger: quietLogger})
	builds := map[string]*host.Module{
		"go":   loadModule(t, engine, "statecompat-go", wasmbuild.MustGo(t, "testdata/statecompat"), host.Limits{}),
		"rust": loadModule(t, engine, "statecompat-rust", wasmbuild.MustRust(t, filepath.Join(rustTestdata, "statecompat.rs")), host.Limits{}),
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
			turns := &alternating{ops: []runtime.Operator{rsInstance(t, builds[writer], true, "")}}
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
	mod := loadModule(t, newEngine(t, host.Config{Logger: quietLogger}), "scan", wasmbuild.MustRust(t, filepath.Join(rustTestdata, "scan.rs")), host.Limits{})
	var logs bytes.Buffer
	op := newInstance(t, mod, runtime.OperatorInfo{Name: "scan", Keyed: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
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
	h := guestHarness(t, host.Config{Logger: quietLogger}, "allocs", wasmbuild.MustRust(t, filepath.Join(rustTestdata, "allocs.rs")),
		runtime.OperatorInfo{Name: "allocs", Keyed: true})
	batch := allocBatch()
	allocations := func() uint64 { t.Helper(); return countQuery(t, h, "q", "allocations") }
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

package host

import (
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/runtime"
)

// Hand-written guests for the call time limit. Each is a module with
// weir_v1_reserve (function 0, returns 1024, no loop), weir_v1_process
// (function 1) and helpers from function 2 on.
var (
	sigProcess = wasmSig{[]byte{tI32, tI32}, []byte{tI32}}
	reserve    = testExport{name: "weir_v1_reserve", sig: sigI32I32, ret: 1024}
	oneI32     = []byte{0x01, 0x01, tI32} // locals: one i32
)

// spinModule returns a module whose weir_v1_process has the given locals and
// body (ending with its i32 result), with helper functions after it.
func spinModule(locals, body []byte, helpers ...testExport) testModule {
	funcs := []testExport{reserve, {name: "weir_v1_process", sig: sigProcess, locals: locals, body: body}}
	return testModule{types: []wasmSig{sigI32I32}, funcs: append(funcs, helpers...), memory: "memory", memPages: 1}
}

// TestInterruptLoopShapes checks that the call time limit and the caller's
// context stop guests that never return, whatever the shape of their loops
// (or calls), and that the instance is then replaced. If the check were
// hoisted out of a loop, the test would hang.
func TestInterruptLoopShapes(t *testing.T) {
	doubleRecurse := testExport{sig: wasmSig{[]byte{tI32}, nil}, body: []byte{
		// f(n): if n > 0 call f(n-1) twice. No loop anywhere.
		0x20, 0x00, 0x04, 0x40,
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x02,
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x02,
		0x0b,
	}}
	recurse := testExport{sig: wasmSig{[]byte{tI32}, nil}, locals: oneI32, body: []byte{
		// f(n): count local 1 to 10 in a loop, then if n > 0 call f(n-1) twice.
		0x41, 0x00, 0x21, 0x01,
		0x03, 0x40, 0x20, 0x01, 0x41, 0x01, 0x6a, 0x22, 0x01, 0x41, 0x0a, 0x49, 0x0d, 0x00, 0x0b,
		0x20, 0x00, 0x04, 0x40,
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x02,
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x02,
		0x0b,
	}}
	tests := []struct {
		name   string
		mod    testModule
		cancel bool // cancel the caller's context instead of waiting for the time limit
	}{
		{"tight empty loop", spinModule(nil, []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x41, 0x00}), false},
		{"nested loops", spinModule(oneI32, []byte{
			0x03, 0x40, // loop
			0x41, 0x00, 0x21, 0x02, // i = 0
			0x03, 0x40, 0x20, 0x02, 0x41, 0x01, 0x6a, 0x22, 0x02, 0x41, 0xe8, 0x07, 0x49, 0x0d, 0x00, 0x0b, // loop while ++i < 1000
			0x0c, 0x00, 0x0b, // br 0, end
			0x41, 0x00}), false},
		{"loop that only calls a function", spinModule(nil, []byte{0x03, 0x40, 0x10, 0x02, 0x0c, 0x00, 0x0b, 0x41, 0x00},
			testExport{sig: sigNone}), false},
		{"finite loops in a function called recursively 2^60 times", spinModule(nil, []byte{0x41, 0x3c, 0x10, 0x02, 0x41, 0x00}, recurse), false},
		{"no loop: 2^60 calls at a stack depth of 60", spinModule(nil, []byte{0x41, 0x3c, 0x10, 0x02, 0x41, 0x00}, doubleRecurse), false},
		{"loop with a parameter (type index block type)", spinModule(nil, []byte{
			0x41, 0x00, 0x03, 0x00, 0x41, 0x01, 0x6a, 0x0c, 0x00, 0x0b, 0x1a, 0x41, 0x00}), false},
		{"tight loop, caller cancels", spinModule(nil, []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x41, 0x00}), true},
		{"nested loops, caller cancels", spinModule(nil, []byte{0x03, 0x40, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, 0x41, 0x00}), true},
	}
	e := newTestEngine(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := Limits{CallTimeout: 100 * time.Millisecond}
			if tt.cancel {
				lim.CallTimeout = time.Hour
			}
			m, err := e.Load(context.Background(), "spin", tt.mod.encode(), lim)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			op := newOperator(t, m, runtime.OperatorInfo{Name: "spin"})
			ctx := context.Background()
			if tt.cancel {
				c, cancel := context.WithCancel(ctx)
				defer cancel()
				time.AfterFunc(50*time.Millisecond, cancel)
				ctx = c
			}
			err = newFakeEnv().process(ctx, op, batchOf("k", "v"))
			if tt.cancel {
				var oe *runtime.OperatorError
				if !errors.Is(err, context.Canceled) || errors.As(err, &oe) {
					t.Fatalf("got %v, want a context.Canceled error that is not an OperatorError", err)
				}
			} else {
				operatorError(t, err)
				wantSubstrings(t, err.Error(), "call exceeded the time limit of 100ms")
			}
			if op.(*operator).inst != nil {
				t.Error("the interrupted instance was kept")
			}
		})
	}
}

// TestInterruptGoSpin stops a Go guest spinning in an empty "for {}".
func TestInterruptGoSpin(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{CallTimeout: 200 * time.Millisecond})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "spin"})
	env := newFakeEnv()
	err := env.process(context.Background(), op, commands("ok", "spin"))
	if oe := operatorError(t, err); oe.Entry != 1 {
		t.Errorf("entry %d, want 1", oe.Entry)
	}
	wantSubstrings(t, err.Error(), "call exceeded the time limit of 200ms")
	env.Emits = nil
	if err := env.process(context.Background(), op, commands("calls")); err != nil {
		t.Fatal(err)
	}
	if got := env.values(t); !equalStrings(got, []string{"1"}) {
		t.Errorf("got %q process calls, want a fresh instance (1)", got)
	}
}

// TestInterruptDuringGC checks that a spinning guest does not hold up the
// Go runtime: while it spins, another goroutine runs garbage collections,
// whose stop-the-world must wait for the guest's goroutine to reach Go code,
// and the guest must still be stopped by the time limit, also with one
// processor (GOMAXPROCS=1), where the timer runs only when the guest's
// goroutine gives way. Machine code that never went back to Go would hang
// this test: the collection would wait for the guest and the guest for the
// timer, which cannot run during a stop-the-world.
func TestInterruptDuringGC(t *testing.T) {
	e := newTestEngine(t, Config{})
	m, err := e.Load(context.Background(), "spin", spinModule(nil, []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x41, 0x00}).encode(),
		Limits{CallTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	for _, tt := range []struct {
		name  string
		procs int // 0: leave GOMAXPROCS alone
	}{{"all processors", 0}, {"one processor", 1}} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.procs > 0 {
				defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(tt.procs))
			}
			op := newOperator(t, m, runtime.OperatorInfo{Name: "spin"})
			done := make(chan struct{})
			defer close(done)
			collections := make(chan int, 1)
			go func() {
				n := 0
				defer func() { collections <- n }()
				for {
					select {
					case <-done:
						return
					default:
						goruntime.GC()
						n++
					}
				}
			}()
			err := newFakeEnv().process(context.Background(), op, batchOf("k", "v"))
			wantSubstrings(t, errString(err), "call exceeded the time limit of 200ms")
			done <- struct{}{}
			if n := <-collections; n == 0 {
				t.Error("no garbage collection ran while the guest spun")
			}
		})
	}
}

// TestStartFunction checks that a module's start function runs once per
// instance, before anything else, under the call time limit.
func TestStartFunction(t *testing.T) {
	addToCell := testExport{sig: sigNone, body: []byte{ // memory[0] += 42
		0x41, 0x00, 0x41, 0x00, 0x28, 0x02, 0x00, 0x41, 0x2a, 0x6a, 0x36, 0x02, 0x00}}
	cellMinus42 := []byte{0x41, 0x00, 0x28, 0x02, 0x00, 0x41, 0x2a, 0x6b} // return memory[0] - 42
	tests := []struct {
		name string
		mod  testModule
		want string // substring of the NewOperator error; "" for success
	}{
		{"runs once", spinModule(nil, cellMinus42, addToCell), ""},
		{"loops forever", spinModule(nil, []byte{0x41, 0x00}, testExport{sig: sigNone, body: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}}),
			`instantiate module "start" for operator "op" subtask 0: start function exceeded the time limit of 100ms`},
		{"traps", spinModule(nil, []byte{0x41, 0x00}, testExport{sig: sigNone, body: []byte{0x00}}),
			`instantiate module "start" for operator "op" subtask 0: start function failed: wasm error: unreachable`},
	}
	e := newTestEngine(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.mod.start = 3 // function 2
			m, err := e.Load(context.Background(), "start", tt.mod.encode(), Limits{CallTimeout: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			op, err := m.NewOperator(context.Background(), runtime.OperatorInfo{Name: "op"})
			if tt.want != "" {
				wantSubstrings(t, errString(err), tt.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer op.Close()
			for range 2 { // the start function does not run again per call
				if err := newFakeEnv().process(context.Background(), op, batchOf("k", "v")); err != nil {
					t.Fatalf("memory[0] is not 42 after the start function: %v", err)
				}
			}
		})
	}
}

// hookEnv is a fakeEnv whose StateClear calls hook first.
type hookEnv struct {
	*fakeEnv
	hook func()
}

func (h hookEnv) StateClear(entry uint32, name []byte) uint32 {
	if h.hook != nil {
		h.hook()
	}
	return h.fakeEnv.StateClear(entry, name)
}

// waitRaised waits until the interrupter of in has raised its flag.
func waitRaised(in *instance) {
	for {
		in.irq.mu.Lock()
		raised := in.irq.cause != nil
		in.irq.mu.Unlock()
		if raised {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestInterruptAfterLastLoop checks the races of the interrupter: a flag
// raised after the guest's last loop header (its loops finished in time)
// does not fail the call, does not cost the instance, and does not leak into
// the next call; and wake-ups of the timer or of the context callback that
// come late, from an earlier call, do nothing. The guest runs a loop of 1000
// iterations, then calls state_clear, where the test acts, then returns 0.
func TestInterruptAfterLastLoop(t *testing.T) {
	mod := spinModule(oneI32, []byte{
		0x03, 0x40, 0x20, 0x02, 0x41, 0x01, 0x6a, 0x22, 0x02, 0x41, 0xe8, 0x07, 0x49, 0x0d, 0x00, 0x0b, // loop while ++i < 1000
		0x41, 0x00, 0x41, 0x00, 0x41, 0x01, 0x10, 0x00, 0x1a, // drop state_clear(0, 0, 1)
		0x41, 0x00})
	// NB: function indices count the import first: weir_v1_process calls 0.
	mod.imports = []testImport{{module: "weir_v1", name: "state_clear", sig: wasmSig{[]byte{tI32, tI32, tI32}, []byte{tI32}}}}
	tests := []struct {
		name    string
		timeout time.Duration
		// during runs inside state_clear of the first call, with the
		// instance and the cancel function of the call's context.
		during func(in *instance, cancel context.CancelFunc)
		raised uint64 // the flag after the first call
	}{
		{"time limit passes after the last loop", 250 * time.Millisecond,
			func(in *instance, _ context.CancelFunc) { waitRaised(in) }, 1},
		{"caller cancels after the last loop", time.Hour,
			func(in *instance, cancel context.CancelFunc) { cancel(); waitRaised(in) }, 1},
		{"late wake-ups of an earlier call", time.Hour,
			func(in *instance, _ context.CancelFunc) { in.irq.timeUp(); in.irq.onCallerDone() }, 0},
	}
	e := newTestEngine(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := e.Load(context.Background(), "late", mod.encode(), Limits{CallTimeout: tt.timeout})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			op := newOperator(t, m, runtime.OperatorInfo{Name: "late", Keyed: true}).(*operator)
			in := op.inst
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			batch := batchOf("k", "v")
			env := hookEnv{fakeEnv: newFakeEnv(), hook: func() { tt.during(in, cancel) }}
			env.Batch = batch
			if err := op.Process(ctx, batch, env); err != nil {
				t.Fatalf("first call: %v", err)
			}
			if op.inst != in {
				t.Fatal("the instance was replaced after a call that completed")
			}
			if got := in.irq.flag.Get(); got != tt.raised {
				t.Errorf("flag after the first call = %d, want %d", got, tt.raised)
			}
			in.irq.timeUp() // a wake-up between calls
			in.irq.onCallerDone()
			if got := in.irq.flag.Get(); got != tt.raised {
				t.Errorf("a wake-up between calls changed the flag to %d", got)
			}
			env.hook = nil
			if err := op.Process(context.Background(), batch, env); err != nil {
				t.Fatalf("second call: %v", err)
			}
			if op.inst != in {
				t.Error("the second call ran on another instance")
			}
		})
	}
}

// TestReservedExport checks that Load rejects a module that exports a name
// the host reserves, along with its other problems.
func TestReservedExport(t *testing.T) {
	e := newTestEngine(t, Config{})
	wasm := testModule{funcs: []testExport{reserve, {name: "weir.interrupt", sig: sigNone}}, memory: "memory", memPages: 1}.encode()
	_, err := e.Load(context.Background(), "m", wasm, Limits{})
	var me *ModuleError
	if !errors.As(err, &me) {
		t.Fatalf("got %v, want a *ModuleError", err)
	}
	wantSubstrings(t, err.Error(), `module "m" is not a Weir ABI v1 operator (2 problems):`,
		"\n\t"+`export "weir.interrupt": names starting with "weir." are reserved for the host`,
		"\n\tmissing export weir_v1_process (i32, i32) -> i32")
}

// TestDiagnose checks the errors of Load when instrumenting or compiling
// fails: wazero's error on the original module if it is invalid, else the
// instrumentation's.
func TestDiagnose(t *testing.T) {
	e := newTestEngine(t, Config{})
	rt, err := e.runtimeFor(context.Background(), Limits{MemoryBytes: DefaultMemoryBytes}.memoryPages())
	if err != nil {
		t.Fatal(err)
	}
	valid := validModule(nil).encode()
	tailCall := spinModule(nil, []byte{0x41, 0x00, 0x41, 0x00, 0x12, 0x01}).encode() // return_call weir_v1_process
	tests := []struct {
		name  string
		wasm  []byte
		cause error
		want  string
	}{
		{"valid module", valid, errors.New("boom"), `module "m" could not be instrumented for the call time limit: boom`},
		{"invalid module", tailCall, errors.New("boom"), `module "m" could not be compiled: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := diagnose(context.Background(), "m", tt.wasm, Limits{MemoryBytes: DefaultMemoryBytes}, rt, tt.cause)
			wantSubstrings(t, errString(err), tt.want)
			if strings.Contains(errString(err), "boom") != (tt.name == "valid module") {
				t.Errorf("%v: the cause shows only when the original module is valid", err)
			}
		})
	}
	// Load of the tail call goes through instrument, which refuses it, then
	// diagnose, which reports wazero's error on the original.
	_, err = e.Load(context.Background(), "m", tailCall, Limits{})
	wantSubstrings(t, errString(err), `module "m" could not be compiled: `)
}

package extism

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/runtime"
)

// TestStateless runs the stateless plugins: a map (upper) and a filter
// (filter), each over batches whose records it changes, drops or keeps, and
// checks what reaches port 0 (docs/extism.md, "Input and output").
func TestStateless(t *testing.T) {
	timerBatch := func() []byte {
		var w abi.Writer
		w.Reset()
		w.Append(abi.Entry{Key: []byte("a"), Value: []byte("x"), Timestamp: 5, TrackingID: 9})
		w.Append(abi.Entry{Kind: abi.KindEventTimer, Key: []byte("t"), Timestamp: 6})
		return w.Detach()
	}
	for _, tc := range []struct {
		name   string
		plugin string
		batch  []byte
		want   []string // key=value@ts#trackingID on port 0
	}{
		{"map upper-cases keys and values", "upper",
			batchOf(rec{"k1", "hello", 10}, rec{"k2", "Wörld 42", abi.NoTimestamp}),
			[]string{"K1=HELLO@10#1", "K2=WÖRLD 42@none#2"}},
		{"map drops timer entries", "upper", timerBatch(), []string{"A=X@5#9"}},
		{"the map of docs/extism.md", "docupper", timerBatch(), []string{"A=X@5#9"}},
		{"the map of docs/extism.md upper-cases ASCII only", "docupper",
			batchOf(rec{"k1", "hello", 10}, rec{"k2", "Wörld 42", abi.NoTimestamp}),
			[]string{"K1=HELLO@10#1", "K2=WöRLD 42@none#2"}},
		{"map of an empty batch emits an empty batch, which is not passed on", "upper", batchOf(), nil},
		{"filter keeps even keys and upper-cases the first byte", "filter",
			batchOf(rec{"user-1", "odd", 1}, rec{"user-2", "even", 2}, rec{"user-7", "x", 3}, rec{"", "nokey", 4}, rec{"user-4", "", 5}),
			[]string{"user-2=Even@2#2", "user-4=@5#5"}},
		{"filter that keeps nothing writes no output", "filter", batchOf(rec{"a1", "v", 1}, rec{"a3", "v", 2}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := newOperator(t, sharedPlugin(t, tc.plugin), runtime.OperatorInfo{})
			env := newFakeEnv()
			if err := env.process(op, tc.batch); err != nil {
				t.Fatal(err)
			}
			if got := env.records(0); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("port 0 got %q, want %q", got, tc.want)
			}
			for _, e := range env.Emits {
				if e.Port != 0 {
					t.Errorf("emitted to port %d", e.Port)
				}
			}
		})
	}
}

// TestStatefulSum runs the keyed running sum: its state and timers go through
// the Env scoped to each entry's key, a fired timer makes it emit to port 1
// through weir_v1_emit, and a bad value is a plugin error naming the entry
// that leaves the instance (and its state) in place.
func TestStatefulSum(t *testing.T) {
	op := newOperator(t, sharedPlugin(t, "sum"), runtime.OperatorInfo{Name: "sum", Keyed: true})
	env := newFakeEnv()
	if err := env.process(op, batchOf(rec{"a", "1", 10}, rec{"b", "2", 11}, rec{"a", "3", 12})); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(env.records(0), " "), "a=1@10#1 b=2@11#2 a=4@12#3"; got != want {
		t.Fatalf("running sums %q, want %q", got, want)
	}
	for k, want := range map[string]string{"a": "4", "b": "2"} {
		if got := string(env.State[stateKey{Key: k, Name: "sum"}]); got != want {
			t.Errorf("state sum of %q = %q, want %q", k, got, want)
		}
	}
	const finalTime = 1 << 40
	for _, k := range []string{"a", "b"} {
		if !env.Timers[timerKey{Key: k, Kind: uint32(abi.KindEventTimer), Time: finalTime}] {
			t.Errorf("no event-time timer at %d for key %q: %v", int64(finalTime), k, env.Timers)
		}
	}

	err := env.process(op, batchOf(rec{"b", "5", 20}, rec{"c", "five", 21}))
	var oe *runtime.OperatorError
	if !errors.As(err, &oe) {
		t.Fatalf("bad value: got %v, want an *runtime.OperatorError", err)
	}
	if oe.Operator != "sum" || oe.Entry != 1 || string(oe.Key) != "c" || oe.Timestamp != 21 || oe.TrackingID != 2 ||
		!strings.Contains(oe.Err.Error(), `value "five" is not an integer`) {
		t.Fatalf("bad value: error %+v (%v); want entry 1, key c and the plugin's message", oe, err)
	}

	var w abi.Writer
	w.Reset()
	w.Append(abi.Entry{Key: []byte("a"), Value: []byte("10"), Timestamp: 30, TrackingID: 1})
	w.Append(abi.Entry{Kind: abi.KindEventTimer, Key: []byte("b"), Timestamp: finalTime})
	env.Emits = nil
	if err := env.process(op, w.Bytes()); err != nil {
		t.Fatal(err)
	}
	// NB: b is 7, not 2: the fake Env does not discard the writes of the
	// failed call, as the runtime does by restarting from a checkpoint.
	if got, want := strings.Join(env.records(0), " ")+" | "+strings.Join(env.records(1), " "), "a=14@30#1 | b=final:7@"+itoa(finalTime)+"#0"; got != want {
		t.Fatalf("after the error: got %q, want %q", got, want)
	}
}

// asOperatorError returns err as a *runtime.OperatorError or fails t.
func asOperatorError(t *testing.T, err error) *runtime.OperatorError {
	t.Helper()
	var oe *runtime.OperatorError
	if !errors.As(err, &oe) {
		t.Fatalf("got %v, want a *runtime.OperatorError", err)
	}
	return oe
}

// TestFailures makes the probe plugin fail in each way a plugin can, and
// checks the error (operator, entry, code, message) and whether the instance
// was kept (a plugin error) or replaced (a trap or a time-out): the probe's
// "calls" counts the calls of its instance, so it says 1 on a fresh one.
func TestFailures(t *testing.T) {
	p := loadPlugin(t, "probe", host.Limits{CallTimeout: 300 * time.Millisecond, MemoryBytes: 64 << 20})
	for _, tc := range []struct {
		name     string
		keyed    bool
		envFail  abi.Code
		cmds     []string
		entry    int
		code     abi.Code
		want     []string // in the error message
		replaced bool
	}{
		{name: "infinite loop stopped by the time limit", cmds: []string{"calls", "loop"}, entry: 1,
			want: []string{"call exceeded the time limit of 300ms"}, replaced: true},
		{name: "plugin error", cmds: []string{"calls", "calls", "fail broken thing"}, entry: 2,
			want: []string{"weir_process_batch returned status 1 with the error: broken thing"}},
		{name: "operator error code", cmds: []string{"failcode 150"}, entry: 0, code: 150,
			want: []string{"weir_process_batch returned status 150"}},
		{name: "status 1 without a message", cmds: []string{"failcode 1"}, entry: 0,
			want: []string{"weir_process_batch returned status 1"}},
		{name: "trap", cmds: []string{"print x", "panic boom"}, entry: 1,
			want: []string{"weir_process_batch trapped: panic: boom", "wasm error: unreachable"}, replaced: true},
		{name: "memory limit", cmds: []string{"alloc 100"}, entry: 0,
			want: []string{"out of memory"}, replaced: true},
		{name: "no network", cmds: []string{"http http://127.0.0.1:1/"}, entry: 0,
			want: []string{"HTTP request to 'http://127.0.0.1:1/' is not allowed"}, replaced: true},
		{name: "no extism vars", cmds: []string{"var"}, entry: 0,
			want: []string{"Vars are disabled by this host"}, replaced: true},
		{name: "malformed emit fails the call", cmds: []string{"emitbad 2"}, entry: -1, code: abi.Malformed,
			want: []string{"the plugin returned 0 after the host rejected its emitted records: weir_v1_emit to port 2: malformed batch"}},
		{name: "emit to a port out of range", cmds: []string{"emit 256 k v"}, entry: -1, code: abi.BadArgument,
			want: []string{"weir_v1_emit to port 256: ports are 0..255"}},
		{name: "INTERNAL from a state call", keyed: true, envFail: abi.Internal, cmds: []string{"calls", "get s a"}, entry: 1, code: abi.Internal,
			want: []string{"host function weir_v1_state_get failed with INTERNAL"}},
		{name: "INTERNAL from the output's emit", envFail: abi.Internal, cmds: []string{"calls"}, entry: -1, code: abi.Internal,
			want: []string{"the output of weir_process_batch: the host could not take the records (INTERNAL)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := newOperator(t, p, runtime.OperatorInfo{Name: "probe", Subtask: 2, Keyed: tc.keyed})
			env := newFakeEnv()
			env.Fail = uint32(tc.envFail)
			batch := commands(tc.cmds...)
			err := env.process(op, batch)
			t.Logf("error: %v", err)
			oe := asOperatorError(t, err)
			if oe.Operator != "probe" || oe.Subtask != 2 || oe.Entry != tc.entry || oe.Code != tc.code {
				t.Errorf("error %v: operator %q subtask %d entry %d code %v; want probe 2 %d %v", err, oe.Operator, oe.Subtask, oe.Entry, oe.Code, tc.entry, tc.code)
			}
			if tc.entry >= 0 {
				e, _ := abi.EntryAt(batch, tc.entry)
				if string(oe.Key) != string(e.Key) || oe.Timestamp != e.Timestamp || oe.TrackingID != e.TrackingID {
					t.Errorf("error names key %q ts %d tracking %d; want those of entry %d", oe.Key, oe.Timestamp, oe.TrackingID, tc.entry)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			env = newFakeEnv()
			if err := env.process(op, commands("calls")); err != nil {
				t.Fatalf("the call after the failure: %v", err)
			}
			fresh := strings.Join(env.results(), "") == "1"
			if fresh != tc.replaced {
				t.Errorf("after the failure the probe counts %q calls: replaced=%v, want replaced=%v", env.results(), fresh, tc.replaced)
			}
		})
	}
}

// TestCallerCancellation checks that cancelling the caller's context stops a
// running plugin with an error that wraps the cause (not an operator error:
// the plugin did nothing wrong), and that the operator then works on.
func TestCallerCancellation(t *testing.T) {
	op := newOperator(t, sharedPlugin(t, "probe"), runtime.OperatorInfo{})
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("job cancelled")
	timer := time.AfterFunc(50*time.Millisecond, func() { cancel(stop) })
	defer timer.Stop()
	env := newFakeEnv()
	env.Batch = commands("loop")
	err := op.Process(ctx, env.Batch, env)
	var oe *runtime.OperatorError
	if !errors.Is(err, stop) || errors.As(err, &oe) {
		t.Fatalf("got %v, want an error wrapping %q that is not an OperatorError", err, stop)
	}
	if err := env.process(op, commands("calls")); err != nil {
		t.Fatal(err)
	}
	if got := env.results(); len(got) != 1 || got[0] != "1" {
		t.Fatalf("after the cancellation: %q, want a fresh instance", got)
	}
}

// TestCloseAndMisuse checks the operator's own errors.
func TestCloseAndMisuse(t *testing.T) {
	p := sharedPlugin(t, "probe")
	op := newOperator(t, p, runtime.OperatorInfo{Name: "m"})
	for _, tc := range []struct {
		name  string
		batch []byte
		want  string
	}{
		{"short batch", []byte("WRB1"), `operator "m" subtask 0: batch of 4 bytes is not between the 32-byte header`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := newFakeEnv().process(op, tc.batch); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := p.NewOperator(context.Background(), runtime.OperatorInfo{Name: "c", Config: []byte(`[1, 2]`)}); err == nil ||
		!strings.Contains(err.Error(), "must be a JSON object") {
		t.Fatalf("config that is not an object: got %v", err)
	}
	if err := op.Close(); err != nil {
		t.Fatal(err)
	}
	if err := newFakeEnv().process(op, commands("calls")); err == nil || !strings.Contains(err.Error(), "process after close") {
		t.Fatalf("process after close: got %v", err)
	}
}

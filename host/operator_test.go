package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// TestEchoRoundTrip checks that records keep every field through the host in
// both directions (abi/ABI.md §4), over several batches, one of them larger
// than the first reserved buffer (§3: reserve again only when needed).
func TestEchoRoundTrip(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "echo", Limits{})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "echo"})
	env := newFakeEnv()

	var sent []abi.Entry
	for i, n := range []int{1, 3, 2000, 5} { // the 2000-record batch needs a bigger buffer
		var w abi.Writer
		w.Reset()
		for j := range n {
			var hdrs []byte
			if j%2 == 0 {
				hdrs = abi.AppendHeader(hdrs, "trace", fmt.Sprintf("t-%d-%d", i, j))
				hdrs = abi.AppendHeader(hdrs, "trace", "again")
			}
			e := abi.Entry{
				Key:        []byte(fmt.Sprintf("key-%d-%d", i, j)),
				Value:      bytes.Repeat([]byte{byte(j)}, j%300),
				Headers:    hdrs,
				Timestamp:  int64(1_735_689_600_000 + j),
				TrackingID: uint64(i)<<32 | uint64(j),
			}
			if j == 1 {
				e.Timestamp = abi.NoTimestamp
				e.Key = nil
			}
			w.Append(e)
			sent = append(sent, e)
		}
		if err := env.process(context.Background(), op, w.Bytes()); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	got := env.records(t)
	if len(got) != len(sent) {
		t.Fatalf("got %d records back, sent %d", len(got), len(sent))
	}
	for i := range sent {
		s, g := sent[i], got[i]
		if !bytes.Equal(s.Key, g.Key) || !bytes.Equal(s.Value, g.Value) || !bytes.Equal(s.Headers, g.Headers) ||
			s.Timestamp != g.Timestamp || s.TrackingID != g.TrackingID || g.Kind != abi.KindRecord {
			t.Fatalf("record %d: sent %+v, got %+v", i, s, g)
		}
	}
	if n := len(env.Emits); n != 4 {
		t.Errorf("got %d emit calls, want one per batch (4)", n)
	}
}

// TestState drives every state host function through the fake Env
// (abi/ABI.md §5), scoped to the key of each entry.
func TestState(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "state", Limits{})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "state", Keyed: true})
	env := newFakeEnv()
	steps := []struct {
		name string
		kv   []string // key, command, ...
		want []string
	}{
		{"get missing", []string{"a", "get count - 16"}, []string{"get=-1 val="}},
		{"put then get", []string{"a", "put count - 42", "a", "get count - 16"}, []string{"put=0", "get=2 val=42"}},
		{"scoped to the entry key", []string{"b", "get count - 16", "b", "put count - 7"}, []string{"get=-1 val=", "put=0"}},
		{"buffer too small copies nothing", []string{"a", "put s - hello-world", "a", "get s - 4", "a", "get s - 11"},
			[]string{"put=0", "get=11 val=", "get=11 val=hello-world"}},
		{"empty value", []string{"a", "put e - -", "a", "get e - 0"}, []string{"put=0", "get=0 val="}},
		{"map state and delete", []string{"a", "put m x 1", "a", "put m y 2", "a", "del m x", "a", "get m x 8", "a", "get m y 8", "a", "del m absent"},
			[]string{"put=0", "put=0", "del=0", "get=-1 val=", "get=1 val=2", "del=0"}},
		{"clear", []string{"a", "put m z 3", "a", "clear m", "a", "get m y 8", "a", "get m z 8", "a", "get count - 8"},
			[]string{"put=0", "clear=0", "get=-1 val=", "get=-1 val=", "get=2 val=42"}},
		{"timers", []string{"a", "timer 1 5000", "a", "timer 2 6000", "a", "untimer 2 6000"},
			[]string{"timer=0", "timer=0", "untimer=0"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			env.Emits = nil
			if err := env.process(context.Background(), op, batchOf(st.kv...)); err != nil {
				t.Fatal(err)
			}
			if got := env.values(t); !equalStrings(got, st.want) {
				t.Errorf("got %q, want %q", got, st.want)
			}
		})
	}
	if v := string(env.State[stateKey{Key: "b", Name: "count"}]); v != "7" {
		t.Errorf("state of key b = %q, want 7", v)
	}
	if !env.Timers[timerKey{Key: "a", Kind: 1, Time: 5000}] || env.Timers[timerKey{Key: "a", Kind: 2, Time: 6000}] || len(env.Timers) != 1 {
		t.Errorf("timers = %v, want only (a, event time, 5000)", env.Timers)
	}
}

// TestStateScan checks the chunking of state_scan (abi/ABI.md §5.1).
func TestStateScan(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "state", Limits{})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "scan", Keyed: true})
	env := newFakeEnv()
	var kv, list []string
	for i := range 60 {
		uk, v := fmt.Sprintf("u%02d", i), strings.Repeat("v", i%7)
		kv = append(kv, "a", "put m "+uk+" "+orDash(v))
		list = append(list, uk+":"+v)
	}
	env.State[stateKey{Key: "a", Name: "other", UserKey: "u00"}] = []byte("not in m")
	env.State[stateKey{Key: "b", Name: "m", UserKey: "u00"}] = []byte("not for key a")
	if err := env.process(context.Background(), op, batchOf(kv...)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, cmd, want string
	}{
		// u00:"" takes 4+3+4+0 = 11 bytes, u01:"v" 12, u02:"vv" 13.
		{"first chunk", "scan m - 36", fmt.Sprintf("scan=%d written=36 more=1 pairs=u00:,u01:v,u02:vv", 36|1<<32)},
		{"the rest", "scan m u57\x00 100", "scan=27 written=27 more=0 pairs=u58:vv,u59:vvv"},
		{"start between keys", "scan m u585 12", "scan=-2"},
		{"not even one pair fits", "scan m - 10", "scan=-2"},
		{"empty range", "scan m v 10", "scan=0 written=0 more=0 pairs="},
		{"empty state", "scan nothing - 10", "scan=0 written=0 more=0 pairs="},
		{"all pairs in chunks", "scanall m", "pairs=60 calls="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.Emits = nil
			if err := env.process(context.Background(), op, batchOf("a", tt.cmd)); err != nil {
				t.Fatal(err)
			}
			got := env.values(t)
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if tt.cmd == "scanall m" && !strings.HasSuffix(got[0], " list="+strings.Join(list, ",")) {
				t.Errorf("scanall listed %q, want %q", got[0], list)
			}
		})
	}
}

// orDash returns s, or "-" (the state guest's empty word) if s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

// operatorError returns err as a *runtime.OperatorError or fails t.
func operatorError(t *testing.T, err error) *runtime.OperatorError {
	t.Helper()
	var oe *runtime.OperatorError
	if !errors.As(err, &oe) {
		t.Fatalf("got error %v (%T), want a *runtime.OperatorError", err, err)
	}
	return oe
}

// TestTimeout checks that a guest in an infinite loop is stopped at the call
// time limit and that the operator goes on with a fresh instance (§9, §10.4).
func TestTimeout(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{CallTimeout: 200 * time.Millisecond})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "spin", Subtask: 2})
	env := newFakeEnv()
	if err := env.process(context.Background(), op, commands("ok")); err != nil {
		t.Fatal(err)
	}
	err := env.process(context.Background(), op, commands("ok", "loop"))
	oe := operatorError(t, err)
	if oe.Entry != 1 || oe.Operator != "spin" || oe.Subtask != 2 || oe.Code != 0 {
		t.Errorf("got %+v, want entry 1 of operator spin subtask 2", oe)
	}
	wantSubstrings(t, err.Error(), "call exceeded the time limit of 200ms", `operator "spin" (module "probe") subtask 2: entry 1 (key "k"`)
	env.Emits = nil
	if err := env.process(context.Background(), op, commands("calls")); err != nil {
		t.Fatalf("after a time-out: %v", err)
	}
	if got := env.values(t); !equalStrings(got, []string{"1"}) {
		t.Errorf("the instance after a time-out has seen %q process calls, want a fresh one (1)", got)
	}
}

// TestCallerCancel checks that cancelling the caller's context interrupts a
// running guest without reporting it as a guest failure.
func TestCallerCancel(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{CallTimeout: time.Minute})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "spin"})
	env := newFakeEnv()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	err := env.process(ctx, op, commands("loop"))
	var oe *runtime.OperatorError
	if !errors.Is(err, context.Canceled) || errors.As(err, &oe) {
		t.Fatalf("got %v, want a context.Canceled error that is not an OperatorError", err)
	}
	if err := env.process(context.Background(), op, commands("ok")); err != nil {
		t.Fatalf("after a cancel: %v", err)
	}
}

// TestMemoryLimit checks that a guest that allocates without bound fails
// cleanly at its memory limit and that the next call works (§9).
func TestMemoryLimit(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{MemoryBytes: 32 << 20})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "bomb"})
	env := newFakeEnv()
	err := env.process(context.Background(), op, commands("bomb"))
	oe := operatorError(t, err)
	wantSubstrings(t, err.Error(), "out of memory")
	if oe.Entry != 0 {
		t.Errorf("entry = %d, want 0", oe.Entry)
	}
	env.Emits = nil
	if err := env.process(context.Background(), op, commands("calls")); err != nil {
		t.Fatalf("after running out of memory: %v", err)
	}
	if got := env.values(t); !equalStrings(got, []string{"1"}) {
		t.Errorf("got %q, want a fresh instance", got)
	}
}

// TestTrapPosition checks that a trap names the entry from the cursor with its
// key, timestamp and tracking id (§4.4).
func TestTrapPosition(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "count", Subtask: 1})
	env := newFakeEnv()
	err := env.process(context.Background(), op, batchOf("a", "ok", "b", "ok", "c", "ok", "poison", "bad", "d", "ok"))
	oe := operatorError(t, err)
	if oe.Entry != 3 || string(oe.Key) != "poison" || oe.Timestamp != 3000 || oe.TrackingID != 4 {
		t.Errorf("got entry %d key %q timestamp %d tracking id %d, want 3 \"poison\" 3000 4", oe.Entry, oe.Key, oe.Timestamp, oe.TrackingID)
	}
	wantSubstrings(t, err.Error(),
		`operator "count" (module "probe") subtask 1: entry 3 (key "poison", timestamp 1970-01-01T00:00:03.000Z, tracking id 0x4): `,
		`weir_v1_process trapped: panic: poison record "bad": wasm error: unreachable`)
	if err := env.process(context.Background(), op, commands("ok")); err != nil {
		t.Fatalf("after a trap: %v", err)
	}
}

// TestExit checks a guest that calls proc_exit in the middle of a batch.
func TestExit(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "quit"})
	env := newFakeEnv()
	err := env.process(context.Background(), op, commands("ok", "exit"))
	if oe := operatorError(t, err); oe.Entry != 1 {
		t.Errorf("entry = %d, want 1", oe.Entry)
	}
	wantSubstrings(t, err.Error(), "the guest exited with code 3")
	if err := env.process(context.Background(), op, commands("ok")); err != nil {
		t.Fatalf("after an exit: %v", err)
	}
}

// codes parses "name=code name=code ..." as emitted by the probe guest.
func codes(t *testing.T, s string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("bad code list %q", s)
		}
		m[k] = v
	}
	return m
}

// TestOutOfBounds checks that every host function returns OUT_OF_BOUNDS for
// a pointer/length pair outside guest memory, and that the void ones (log,
// set_error) do not fail the host (§5, §8).
func TestOutOfBounds(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{MemoryBytes: 64 << 20})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "oob", Keyed: true})
	env := newFakeEnv()
	// The probe ignores the codes of its bad emits and returns OK: the host fails
	// the call anyway, since those records were lost (§8).
	if err := env.process(context.Background(), op, commands("oob")); err == nil || !strings.Contains(err.Error(), "returned OK after the host rejected its emitted records") {
		t.Fatalf("got error %v, want the rejected emit to fail the call", err)
	}
	got := env.values(t)
	if len(got) != 1 {
		t.Fatalf("got %q, want one record of codes", got)
	}
	want := map[string]string{
		"state_get": "-3", "state_get_out": "-3", "state_get_ukey": "-3", "state_put": "3", "state_put_len": "3",
		"state_delete": "3", "state_clear": "3", "state_scan": "-3", "state_scan_out": "-3", "emit": "3", "emit_len": "3",
	}
	if c := codes(t, got[0]); fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("got codes %v\nwant %v", c, want)
	}
	if len(env.State) != 0 {
		t.Errorf("out-of-bounds calls reached the Env: state %v", env.State)
	}
}

// TestArguments checks BAD_ENTRY, BAD_ARGUMENT and LIMIT_EXCEEDED of the host
// functions, and NOT_ALLOWED on an operator whose input is not keyed (§5, §6, §9).
func TestArguments(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{})
	tests := []struct {
		name  string
		keyed bool
		want  map[string]string
	}{
		{"keyed", true, map[string]string{
			"bad_entry": "-4", "empty_name": "5", "long_name": "5", "long_key": "6", "bad_kind": "5",
			"bad_kind_delete": "5", "timer_bad_entry": "4", "bad_port": "5", "get": "-1", "timer": "0"}},
		{"not keyed", false, map[string]string{
			"bad_entry": "-8", "empty_name": "8", "long_name": "8", "long_key": "8", "bad_kind": "8",
			"bad_kind_delete": "8", "timer_bad_entry": "8", "bad_port": "5", "get": "-8", "timer": "8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newOperator(t, m, runtime.OperatorInfo{Name: "args", Keyed: tt.keyed})
			env := newFakeEnv()
			if err := env.process(context.Background(), op, commands("args")); err == nil || !strings.Contains(err.Error(), "emit to port 256: ports are 0..255") {
				t.Fatalf("got error %v, want the rejected emit to fail the call", err)
			}
			got := env.values(t)
			if len(got) != 1 {
				t.Fatalf("got %q, want one record of codes", got)
			}
			if c := codes(t, got[0]); fmt.Sprint(c) != fmt.Sprint(tt.want) {
				t.Errorf("got codes %v\nwant %v", c, tt.want)
			}
		})
	}
}

// TestEmitRejected checks MALFORMED and LIMIT_EXCEEDED for emitted batches
// (§4.3, §9): the guest returns the code it got, and the error explains it.
func TestEmitRejected(t *testing.T) {
	e := newTestEngine(t, Config{})
	tests := []struct {
		name      string
		lim       Limits
		cmd       string
		code      abi.Code
		field     string // of the *abi.FormatError, if one is expected
		emits     int    // emits that reached the Env
		errSubstr string
	}{
		{"timer entry", Limits{}, "malformed", abi.Malformed, "kind", 0, "status MALFORMED(7): emit to port 0: malformed batch: entry 0: kind: event-time timer in an emitted batch"},
		{"over max emit bytes", Limits{MaxEmitBytes: 4096}, "bigemit 3 2000", abi.LimitExceeded, "", 1, "status LIMIT_EXCEEDED(6): emitting 2065 more bytes to port 0 would exceed the limit of 4096 emitted bytes per call (2065 emitted so far)"},
		{"value over max value bytes", Limits{MaxValueBytes: 1000}, "bigemit 1 1001", abi.LimitExceeded, "value", 0, "entry 0: value: 1001 bytes is more than the limit of 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadGuest(t, e, "probe", tt.lim)
			op := newOperator(t, m, runtime.OperatorInfo{Name: "emitter"})
			env := newFakeEnv()
			err := env.process(context.Background(), op, commands("ok", tt.cmd))
			oe := operatorError(t, err)
			if oe.Code != tt.code || oe.Entry != 1 {
				t.Errorf("got code %v entry %d, want %v entry 1", oe.Code, oe.Entry, tt.code)
			}
			var fe *abi.FormatError
			if tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field || fe.Entry != 0) {
				t.Errorf("error %v does not wrap an *abi.FormatError of entry 0 field %s", err, tt.field)
			}
			if len(env.Emits) != tt.emits {
				t.Errorf("%d emits reached the Env, want %d", len(env.Emits), tt.emits)
			}
			wantSubstrings(t, err.Error(), tt.errSubstr)
		})
	}
}

// TestStatus checks the errors of non-zero statuses (§8).
func TestStatus(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "st"})
	tests := []struct {
		name string
		cmd  string
		code abi.Code
		want string
	}{
		{"guest error with message", "status 104 the input is not JSON", 104, `: status GUEST_ERROR(104): the input is not JSON`},
		{"guest error without message", "status 65535", 65535, `: status GUEST_ERROR(65535)`},
		{"unknown code", "status 42", 42, `: unknown status code 42`},
		{"code above the guest range", "status 70000", 70000, `: unknown status code 70000`},
		{"ABI code", "status 2 no room", abi.BufferTooSmall, `: status BUFFER_TOO_SMALL(2): no room`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newFakeEnv()
			err := env.process(context.Background(), op, batchOf("x", "ok", "y", tt.cmd))
			oe := operatorError(t, err)
			if oe.Code != tt.code || oe.Entry != 1 || string(oe.Key) != "y" {
				t.Errorf("got code %d entry %d key %q, want %d 1 y", oe.Code, oe.Entry, oe.Key, tt.code)
			}
			if !strings.HasSuffix(err.Error(), tt.want) {
				t.Errorf("%q does not end with %q", err, tt.want)
			}
		})
	}
	// A non-zero status does not replace the instance.
	env := newFakeEnv()
	if err := env.process(context.Background(), op, commands("calls")); err != nil {
		t.Fatal(err)
	}
	if got := env.values(t); !equalStrings(got, []string{fmt.Sprint(len(tests) + 1)}) {
		t.Errorf("calls = %q, want %d: the instance was replaced", got, len(tests)+1)
	}
}

// TestInternal checks that INTERNAL from the Env fails the call even though
// the guest ignores it and returns 0 (§8).
func TestInternal(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "store", Keyed: true})
	env := newFakeEnv()
	env.Fail = uint32(abi.Internal)
	err := env.process(context.Background(), op, batchOf("a", "ok", "b", "getignore", "c", "ok"))
	oe := operatorError(t, err)
	if oe.Code != abi.Internal || oe.Entry != 1 || string(oe.Key) != "b" {
		t.Errorf("got code %v entry %d key %q, want INTERNAL entry 1 key b", oe.Code, oe.Entry, oe.Key)
	}
	wantSubstrings(t, err.Error(), "host function state_get failed with INTERNAL", "status 0")
	env.Fail = 0
	if err := env.process(context.Background(), op, commands("getignore")); err != nil {
		t.Errorf("the next call failed too: %v", err)
	}
}

// TestInit checks weir_v1_init: it gets the configuration, state, timer and
// emit calls are NOT_ALLOWED in it, and a non-zero status fails NewOperator.
func TestInit(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{})
	for _, config := range []string{"", `{"window":"5s"}`} {
		op := newOperator(t, m, runtime.OperatorInfo{Name: "cfg", Keyed: true, Config: []byte(config)})
		env := newFakeEnv()
		if err := env.process(context.Background(), op, commands("init")); err != nil {
			t.Fatal(err)
		}
		want := "config=" + config + " get=-8 emit=8 timer=8"
		if got := env.values(t); !equalStrings(got, []string{want}) {
			t.Errorf("init saw %q, want %q", got, want)
		}
	}
	_, err := m.NewOperator(context.Background(), runtime.OperatorInfo{Name: "cfg", Subtask: 3, Config: []byte("failing")})
	oe := operatorError(t, err)
	if oe.Code != 101 || oe.Entry != -1 {
		t.Errorf("got code %d entry %d, want 101 and -1", oe.Code, oe.Entry)
	}
	want := `operator "cfg" (module "probe") subtask 3: weir_v1_init returned status GUEST_ERROR(101): cannot use configuration "failing"`
	if err.Error() != want {
		t.Errorf("got  %q\nwant %q", err, want)
	}
}

// TestDeterminism checks that WASI clocks and randomness are the same for
// every instance (§7.2): wazero's fake clock starts at 2022-01-01.
func TestDeterminism(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{})
	var outs []string
	for i := range 2 {
		op := newOperator(t, m, runtime.OperatorInfo{Name: "clock", Subtask: i})
		env := newFakeEnv()
		if err := env.process(context.Background(), op, commands("clock")); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, env.values(t)...)
	}
	if len(outs) != 2 || outs[0] != outs[1] {
		t.Fatalf("two instances saw %q, want the same clock and random bytes", outs)
	}
	var nanos int64
	var random string
	if _, err := fmt.Sscan(outs[0], &nanos, &random); err != nil {
		t.Fatal(err)
	}
	if got := time.Unix(0, nanos).UTC(); got.Year() != 2022 || got.YearDay() != 1 {
		t.Errorf("the guest's clock reads %v, want wazero's fake clock (2022-01-01)", got)
	}
}

// TestGuestOutput checks that stdout, stderr and log reach the logger tagged
// with the operator and subtask, within the per-call budget.
func TestGuestOutput(t *testing.T) {
	logger, buf := testLogger()
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{MaxOutputBytes: 200})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "chatty", Subtask: 4, Logger: logger})
	env := newFakeEnv()
	if err := env.process(context.Background(), op, commands("print hello from the guest", "log 4 careful now")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	wantSubstrings(t, out,
		`level=INFO msg="hello from the guest" operator=chatty subtask=4 module=probe stream=stdout`,
		`level=INFO msg="hello from the guest" operator=chatty subtask=4 module=probe stream=stderr`,
		`level=WARN msg="careful now" operator=chatty subtask=4 module=probe stream=log`)
	long := strings.Repeat("x", 90)
	if err := env.process(context.Background(), op, commands("print "+long, "print "+long, "print "+long)); err != nil {
		t.Fatal(err)
	}
	out = strings.TrimPrefix(buf.String(), out)
	if n := strings.Count(out, long); n != 2 {
		t.Errorf("%d lines of 90 bytes were logged, want 2 within the 200-byte budget:\n%s", n, out)
	}
	if n := strings.Count(out, "output truncated"); n != 1 {
		t.Errorf("%d \"output truncated\" lines, want 1:\n%s", n, out)
	}
}

// TestCompilationCache checks that compiled code is kept in CacheDir and that
// a second Engine loads the module from it.
func TestCompilationCache(t *testing.T) {
	dir := t.TempDir()
	e1 := newTestEngine(t, Config{CacheDir: dir})
	loadGuest(t, e1, "echo", Limits{})
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("cache dir has %d entries (err %v) after a load, want some", len(entries), err)
	}
	if err := e1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	e2 := newTestEngine(t, Config{CacheDir: dir})
	m := loadGuest(t, e2, "echo", Limits{})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "cached"})
	env := newFakeEnv()
	if err := env.process(context.Background(), op, batchOf("k", "v")); err != nil {
		t.Fatal(err)
	}
	if got := env.values(t); !equalStrings(got, []string{"v"}) {
		t.Errorf("got %q, want [v]", got)
	}
}

// TestMemoryLimitsPerModule checks that modules with different memory limits
// run side by side, each under its own limit.
func TestMemoryLimitsPerModule(t *testing.T) {
	e := newTestEngine(t, Config{})
	small := loadGuest(t, e, "probe", Limits{MemoryBytes: 32 << 20})
	large := loadGuest(t, e, "probe", Limits{MemoryBytes: 128 << 20})
	smallOp := newOperator(t, small, runtime.OperatorInfo{Name: "small"})
	largeOp := newOperator(t, large, runtime.OperatorInfo{Name: "large"})
	env := newFakeEnv()
	if err := env.process(context.Background(), largeOp, commands("alloc 64")); err != nil {
		t.Errorf("64 MiB under a 128 MiB limit: %v", err)
	}
	if err := env.process(context.Background(), smallOp, commands("alloc 64")); err == nil {
		t.Error("64 MiB under a 32 MiB limit did not fail")
	}
	if n := len(e.runtimes); n != 2 {
		t.Errorf("the engine has %d runtimes, want one per memory limit (2)", n)
	}
}

// TestConcurrentOperators runs subtasks of one module on several goroutines,
// as the runtime does (run it with -race).
func TestConcurrentOperators(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "state", Limits{})
	const subtasks, batches = 4, 20
	errs := make(chan error, subtasks)
	envs := make([]*fakeEnv, subtasks)
	for i := range subtasks {
		op := newOperator(t, m, runtime.OperatorInfo{Name: "par", Subtask: i, Keyed: true})
		env := newFakeEnv()
		envs[i] = env
		go func() {
			for j := range batches {
				if err := env.process(context.Background(), op, batchOf("k", fmt.Sprintf("put n - %d", j), "k", "get n - 8")); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range subtasks {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	want := fmt.Sprintf("get=%d val=%d", len(fmt.Sprint(batches-1)), batches-1)
	for i, env := range envs {
		if got := env.values(t); len(got) != 2*batches || got[len(got)-1] != want {
			t.Errorf("subtask %d: got %d values ending in %q, want %d ending in %q", i, len(got), got[len(got)-1], 2*batches, want)
		}
	}
}

func TestProcessAfterClose(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "echo", Limits{})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "closed"})
	if err := op.Close(); err != nil {
		t.Fatal(err)
	}
	err := newFakeEnv().process(context.Background(), op, batchOf("k", "v"))
	if err == nil || !strings.Contains(err.Error(), "after close") {
		t.Errorf("got %v, want a process-after-close error", err)
	}
}

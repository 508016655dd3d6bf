package weir_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

func rec(key, value string, ts int64, tid uint64) weir.Record {
	return weir.Record{Key: []byte(key), Value: []byte(value), Timestamp: ts, TrackingID: tid}
}

// emitOnly returns an operator whose Process calls fn.
func emitOnly(fn func(ctx *weir.Context, r weir.Record) error) weir.Operator {
	return weir.Operator{Process: fn}
}

func wantBatchError(t *testing.T, err error, entry int, code weir.Code) *weir.BatchError {
	t.Helper()
	var be *weir.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("got error %v, want a *weir.BatchError", err)
	}
	if be.Entry != entry || be.Code != code {
		t.Fatalf("batch failed at entry %d with code %s (%v), want entry %d code %s", be.Entry, be.Code, err, entry, code)
	}
	return be
}

// TestEmitInheritance checks the timestamp and tracking id rules of
// Context.EmitTo, for records and for timers.
func TestEmitInheritance(t *testing.T) {
	tests := []struct {
		name    string
		emit    weir.Record
		in      weir.Record
		wantTS  int64
		wantTID uint64
	}{
		{"zero inherits both", weir.Record{}, rec("k", "", 1234, 77), 1234, 77},
		{"explicit timestamp and tracking id", weir.Record{Timestamp: 5, TrackingID: 9}, rec("k", "", 1234, 77), 5, 9},
		{"NoTimestamp is kept", weir.Record{Timestamp: weir.NoTimestamp}, rec("k", "", 1234, 77), weir.NoTimestamp, 77},
		{"input without timestamp", weir.Record{}, rec("k", "", weir.NoTimestamp, 0), weir.NoTimestamp, 0},
		{"negative timestamp is explicit", weir.Record{Timestamp: -1}, rec("k", "", 1234, 77), -1, 77},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
				ctx.Emit(tt.emit)
				return nil
			}), nil)
			h.Process(tt.in)
			out := h.Output(0)
			if len(out) != 1 || out[0].Timestamp != tt.wantTS || out[0].TrackingID != tt.wantTID {
				t.Fatalf("emitted\n%swant timestamp %d tracking id %d", weirtest.FormatRecords(out), tt.wantTS, tt.wantTID)
			}
		})
	}

	t.Run("from a timer", func(t *testing.T) {
		h := weirtest.New(t, weir.Operator{
			Process: func(ctx *weir.Context, r weir.Record) error { return ctx.SetEventTimer(500) },
			OnTimer: func(ctx *weir.Context, tm weir.Timer) error {
				ctx.Emit(weir.Record{Key: tm.Key})
				return nil
			},
		}, nil)
		h.Process(rec("k", "", 100, 42))
		h.AdvanceWatermark(600)
		out := h.Output(0)
		if len(out) != 1 || out[0].Timestamp != 500 || out[0].TrackingID != 0 || string(out[0].Key) != "k" {
			t.Fatalf("emitted\n%swant key k, timestamp 500 (the timer's), tracking id 0", weirtest.FormatRecords(out))
		}
	})
}

// TestContextAccessors checks what the Context reports for records and timers.
func TestContextAccessors(t *testing.T) {
	var got []string
	h := weirtest.New(t, weir.Operator{
		Process: func(ctx *weir.Context, r weir.Record) error {
			got = append(got, fmt.Sprintf("record key=%s ts=%d tid=%d wm=%d pt=%d", ctx.Key(), ctx.Timestamp(), ctx.TrackingID(), ctx.Watermark(), ctx.ProcessingTime()))
			if err := ctx.SetEventTimer(r.Timestamp + 10); err != nil {
				return err
			}
			return ctx.SetProcessingTimer(70)
		},
		OnTimer: func(ctx *weir.Context, tm weir.Timer) error {
			got = append(got, fmt.Sprintf("%s timer key=%s time=%d ts=%d tid=%d wm=%d pt=%d", tm.Kind, tm.Key, tm.Time, ctx.Timestamp(), ctx.TrackingID(), ctx.Watermark(), ctx.ProcessingTime()))
			return nil
		},
	}, nil)
	h.Process(rec("a", "", 100, 1))
	h.AdvanceWatermark(105)
	h.Process(rec("b", "", 200, 2))
	h.AdvanceWatermark(300)
	h.AdvanceProcessingTime(80)
	want := []string{
		fmt.Sprintf("record key=a ts=100 tid=1 wm=%d pt=0", weir.NoTimestamp),
		"record key=b ts=200 tid=2 wm=105 pt=0",
		"event-time timer key=a time=110 ts=110 tid=0 wm=300 pt=0",
		"event-time timer key=b time=210 ts=210 tid=0 wm=300 pt=0",
		"processing-time timer key=a time=70 ts=70 tid=0 wm=300 pt=80",
		"processing-time timer key=b time=70 ts=70 tid=0 wm=300 pt=80",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSideOutputs checks EmitTo's ports, and that a bad port or an oversized or
// malformed record fails the batch at its entry.
func TestSideOutputs(t *testing.T) {
	h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
		for _, p := range []int{0, 1, 255, 1} {
			ctx.EmitTo(p, weir.Record{Value: []byte(fmt.Sprintf("%s->%d", r.Value, p))})
		}
		return nil
	}), nil)
	h.Process(rec("k", "x", 1, 1), rec("k", "y", 2, 2))
	for _, c := range []struct {
		port int
		want string
	}{{0, "x->0 y->0"}, {1, "x->1 x->1 y->1 y->1"}, {255, "x->255 y->255"}} {
		var vs []string
		for _, r := range h.Output(c.port) {
			vs = append(vs, string(r.Value))
		}
		if got := strings.Join(vs, " "); got != c.want {
			t.Errorf("port %d: got %q, want %q", c.port, got, c.want)
		}
	}

	bad := []struct {
		name     string
		port     int
		r        weir.Record
		wantCode weir.Code
	}{
		{"port -1", -1, weir.Record{}, weir.BadArgument},
		{"port 256", 256, weir.Record{}, weir.BadArgument},
		{"key over the limit", 1, weir.Record{Key: make([]byte, weir.MaxKeyBytes+1)}, weir.LimitExceeded},
		{"malformed headers", 1, weir.Record{Headers: []byte{1, 0}}, weir.Malformed},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
				if string(r.Value) == "bad" {
					ctx.EmitTo(tt.port, tt.r)
				} else {
					ctx.Emit(r)
				}
				return nil
			}), nil)
			err := h.TryProcess(rec("k", "good", 1, 1), rec("k", "bad", 2, 2), rec("k", "good", 3, 3))
			be := wantBatchError(t, err, 1, weir.ErrorCode)
			var we *weir.Error
			if !errors.As(be, &we) || we.Code != tt.wantCode || we.Op != "emit" {
				t.Fatalf("cause %v, want a *weir.Error from emit with code %s", be.Err, tt.wantCode)
			}
			if ps := h.Ports(); len(ps) != 0 {
				t.Fatalf("a failed batch left output on ports %v", ps)
			}
		})
	}
}

// TestFailedBatchLeavesNoEmits checks that records buffered by a failed batch
// are not flushed with the next one.
func TestFailedBatchLeavesNoEmits(t *testing.T) {
	h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
		ctx.EmitTo(3, r)
		if string(r.Value) == "fail" {
			return errors.New("fail")
		}
		return nil
	}), nil)
	wantBatchError(t, h.TryProcess(rec("k", "stale", 1, 1), rec("k", "fail", 2, 2)), 1, weir.ErrorCode)
	h.Process(rec("k", "fresh", 3, 3))
	if out := h.Output(3); len(out) != 1 || string(out[0].Value) != "fresh" {
		t.Fatalf("port 3 got\n%swant only the record of the second batch", weirtest.FormatRecords(out))
	}
}

// countingHost counts the Emit calls that reach the host.
type countingHost struct {
	weir.NativeHost
	emits map[uint32]int
}

func (c *countingHost) Emit(port uint32, batch []byte) uint32 {
	c.emits[port]++
	return c.NativeHost.Emit(port, batch)
}

// TestEmitBuffering checks that emits reach the host as one call per port per
// batch, and in more calls only once a port's buffer passes 1 MiB.
func TestEmitBuffering(t *testing.T) {
	value := bytes.Repeat([]byte("v"), 1000)
	ch := &countingHost{emits: map[uint32]int{}}
	h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
		ctx.Emit(weir.Record{Value: value})
		ctx.EmitTo(7, weir.Record{Value: r.Value})
		return nil
	}), nil, weirtest.WrapHost(func(nh weir.NativeHost) weir.NativeHost { ch.NativeHost = nh; return ch }))

	recs := make([]weir.Record, 3000)
	for i := range recs {
		recs[i] = rec("k", fmt.Sprint(i), int64(i), uint64(i+1))
	}
	h.Process(recs...)
	// 3000 records of ~1 KiB on port 0 are ~3 MiB: flushed at each MiB, then
	// at the end of the batch. Port 7's small records take one call.
	if ch.emits[0] < 3 || ch.emits[0] > 4 || ch.emits[7] != 1 {
		t.Fatalf("emit calls per port %v, want 3 or 4 on port 0 and 1 on port 7", ch.emits)
	}
	out := h.Output(7)
	if len(out) != len(recs) {
		t.Fatalf("port 7 got %d records, want %d", len(out), len(recs))
	}
	for i, r := range out {
		if string(r.Value) != fmt.Sprint(i) {
			t.Fatalf("port 7 record %d is %q: order lost", i, r.Value)
		}
	}
	if n := len(h.Output(0)); n != len(recs) {
		t.Fatalf("port 0 got %d records, want %d", n, len(recs))
	}
}

// failingHost makes one host function return a code.
type failingHost struct {
	weir.NativeHost
	putCode, timerCode, emitCode uint32
}

func (f *failingHost) StatePut(entry uint32, name, userKey, value []byte) uint32 {
	if f.putCode != 0 {
		return f.putCode
	}
	return f.NativeHost.StatePut(entry, name, userKey, value)
}

func (f *failingHost) TimerSet(entry uint32, kind uint32, time int64) uint32 {
	if f.timerCode != 0 {
		return f.timerCode
	}
	return f.NativeHost.TimerSet(entry, kind, time)
}

func (f *failingHost) Emit(port uint32, batch []byte) uint32 {
	if f.emitCode != 0 {
		return f.emitCode
	}
	return f.NativeHost.Emit(port, batch)
}

var errCount = weir.NewValueState("count", weir.Int64)

// TestErrorCodes checks the status code a batch fails with (ABI §8): the
// operator's own code, 100 for other errors, and Internal whenever a host
// call returned Internal, even if the operator ignored it.
func TestErrorCodes(t *testing.T) {
	tests := []struct {
		name      string
		process   func(ctx *weir.Context, r weir.Record) error
		host      failingHost
		wantEntry int
		wantCode  weir.Code
		wantMsg   string
	}{
		{"guest code", func(*weir.Context, weir.Record) error { return weir.Errorf(150, "bad %s", "input") }, failingHost{}, 0, 150, "bad input"},
		{"wrapped guest code", func(*weir.Context, weir.Record) error {
			return fmt.Errorf("context: %w", weir.Errorf(65535, "deep"))
		}, failingHost{}, 0, 65535, "context: deep"},
		{"code below 100 becomes 100", func(*weir.Context, weir.Record) error { return weir.Errorf(5, "x") }, failingHost{}, 0, weir.ErrorCode, "x"},
		{"plain error", func(*weir.Context, weir.Record) error { return errors.New("plain") }, failingHost{}, 0, weir.ErrorCode, "plain"},
		{"host error returned", func(ctx *weir.Context, r weir.Record) error { return errCount.Set(ctx, 1) },
			failingHost{putCode: uint32(weir.LimitExceeded)}, 0, weir.ErrorCode, `state_put "count": LIMIT_EXCEEDED`},
		{"internal returned", func(ctx *weir.Context, r weir.Record) error { return errCount.Set(ctx, 1) },
			failingHost{putCode: uint32(weir.Internal)}, 0, weir.Internal, `state_put "count": INTERNAL`},
		{"internal ignored", func(ctx *weir.Context, r weir.Record) error {
			_ = errCount.Set(ctx, 1)
			return nil
		}, failingHost{putCode: uint32(weir.Internal)}, 0, weir.Internal, `state_put "count"`},
		{"internal from a timer call, then another error", func(ctx *weir.Context, r weir.Record) error {
			_ = ctx.SetEventTimer(5)
			return weir.Errorf(200, "later")
		}, failingHost{timerCode: uint32(weir.Internal)}, 0, weir.Internal, "timer_set: INTERNAL (and then: later (GUEST_ERROR(200)))"},
		{"emit rejected at the end of the batch", func(ctx *weir.Context, r weir.Record) error {
			ctx.Emit(r)
			return nil
		}, failingHost{emitCode: uint32(weir.LimitExceeded)}, -1, weir.ErrorCode, "emit to port 0: LIMIT_EXCEEDED"},
		{"emit internal at the end of the batch", func(ctx *weir.Context, r weir.Record) error {
			ctx.Emit(r)
			return nil
		}, failingHost{emitCode: uint32(weir.Internal)}, -1, weir.Internal, "emit to port 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fh := tt.host
			h := weirtest.New(t, emitOnly(tt.process), nil, weirtest.WrapHost(func(nh weir.NativeHost) weir.NativeHost {
				fh.NativeHost = nh
				return &fh
			}))
			err := h.TryProcess(rec("k", "v", 1, 1))
			wantBatchError(t, err, tt.wantEntry, tt.wantCode)
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

// TestPanic checks that a panic in the native build becomes a *BatchError with
// code 0 that names the entry and the panic.
func TestPanic(t *testing.T) {
	h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
		if string(r.Value) == "boom" {
			var m map[string]int
			m["x"]++ // a runtime panic, not just panic()
		}
		ctx.Emit(r)
		return nil
	}), nil)
	err := h.TryProcess(rec("a", "1", 1, 1), rec("b", "2", 2, 2), rec("c", "boom", 3, 3), rec("d", "4", 4, 4))
	be := wantBatchError(t, err, 2, 0)
	if !strings.Contains(err.Error(), "entry 2") || !strings.Contains(err.Error(), "panic: assignment to entry in nil map") {
		t.Fatalf("error %q does not name entry 2 and the panic", err)
	}
	if be.Err == nil || len(h.Output(0)) != 0 {
		t.Fatalf("cause %v, output %d records; want the panic and no output", be.Err, len(h.Output(0)))
	}
	// The instance keeps working after a recovered panic.
	h.Process(rec("e", "5", 5, 5))
	if out := h.Output(0); len(out) != 1 || string(out[0].Key) != "e" {
		t.Fatalf("after the panic got\n%s", weirtest.FormatRecords(out))
	}
}

// TestNotKeyed checks that state and timers on an unkeyed input fail with
// NotAllowed, as a *weir.Error that names the call.
func TestNotKeyed(t *testing.T) {
	var errs []error
	h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
		_, _, err := errCount.Get(ctx)
		errs = append(errs, err, ctx.SetEventTimer(1))
		return nil
	}), nil, weirtest.Unkeyed())
	h.Process(rec("k", "v", 1, 1))
	for i, want := range []string{`state_get "count": NOT_ALLOWED`, `timer_set: NOT_ALLOWED`} {
		var we *weir.Error
		if !errors.As(errs[i], &we) || we.Code != weir.NotAllowed || errs[i].Error() != want {
			t.Errorf("call %d: error %v, want %q", i, errs[i], want)
		}
	}
}

func TestOnTimerMissing(t *testing.T) {
	h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error { return ctx.SetEventTimer(10) }), nil)
	h.Process(rec("k", "v", 1, 1))
	err := h.TryAdvanceWatermark(10)
	wantBatchError(t, err, 0, weir.ErrorCode)
	if !strings.Contains(err.Error(), "OnTimer is nil") {
		t.Fatalf("error %q does not say OnTimer is nil", err)
	}
}

func TestMalformedInput(t *testing.T) {
	h := weirtest.New(t, emitOnly(func(*weir.Context, weir.Record) error { return nil }), nil)
	for _, b := range [][]byte{nil, []byte("WRB1"), append([]byte("WRB0"), make([]byte, 28)...)} {
		wantBatchError(t, h.ProcessBatch(b), -1, weir.Malformed)
	}
}

func TestNewNative(t *testing.T) {
	tests := []struct {
		name    string
		op      weir.Operator
		wantErr string
	}{
		{"no Process", weir.Operator{}, "Operator.Process is nil"},
		{"Init fails", weir.Operator{Process: func(*weir.Context, weir.Record) error { return nil },
			Init: func(c []byte) error { return fmt.Errorf("config %q", c) }}, `Operator.Init: config "cfg"`},
		{"Init panics", weir.Operator{Process: func(*weir.Context, weir.Record) error { return nil },
			Init: func([]byte) error { panic("init boom") }}, "Operator.Init panicked: init boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := weir.NewNative(tt.op, []byte("cfg"))
			if n != nil || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewNative = %v, %v; want an error with %q", n, err, tt.wantErr)
			}
		})
	}
	cfg := []byte("abc")
	var seen []byte
	if _, err := weir.NewNative(weir.Operator{Process: func(*weir.Context, weir.Record) error { return nil },
		Init: func(c []byte) error { seen = c; return nil }}, cfg); err != nil {
		t.Fatal(err)
	}
	cfg[0] = 'X'
	if string(seen) != "abc" {
		t.Fatalf("Init got %q after the caller changed its config; want its own copy", seen)
	}
}

func TestLog(t *testing.T) {
	h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
		ctx.Logf(weir.LevelWarn, "value %s", r.Value)
		ctx.Log(weir.LevelDebug, "done")
		return nil
	}), nil, weirtest.QuietLogs())
	h.Process(rec("k", "v", 1, 1))
	want := []weirtest.Log{{Level: weir.LevelWarn, Msg: "value v"}, {Level: weir.LevelDebug, Msg: "done"}}
	if got := h.Logs(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("logs %v, want %v", got, want)
	}
}

func TestHeaders(t *testing.T) {
	r := weir.Record{}
	r.Headers = weir.AppendHeader(r.Headers, "a", []byte("1"))
	r.Headers = weir.AppendHeader(r.Headers, "b", nil)
	r.Headers = weir.AppendHeader(r.Headers, "a", []byte("2"))
	if v, ok := r.Header("a"); !ok || string(v) != "1" {
		t.Errorf(`Header("a") = %q, %v; want the first, "1"`, v, ok)
	}
	if v, ok := r.Header("b"); !ok || len(v) != 0 {
		t.Errorf(`Header("b") = %q, %v; want "", true`, v, ok)
	}
	if _, ok := r.Header("c"); ok {
		t.Error(`Header("c") found a header that is not there`)
	}
	var all []string
	if err := weir.RangeHeaders(r.Headers, func(n, v []byte) bool { all = append(all, string(n)+"="+string(v)); return true }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(all, ","); got != "a=1,b=,a=2" {
		t.Errorf("RangeHeaders saw %s", got)
	}
	if err := weir.RangeHeaders([]byte{5, 0, 0, 0, 'x'}, func(n, v []byte) bool { return true }); err == nil {
		t.Error("RangeHeaders accepted malformed headers")
	}

	// Appending to the headers of a record handed to Process must not
	// overwrite the bytes after them in the batch.
	h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
		r.Headers = weir.AppendHeader(r.Headers, "seen", []byte("yes"))
		ctx.Emit(r)
		return nil
	}), nil)
	in1 := rec("k1", "v1", 1, 1)
	in1.Headers = weir.AppendHeader(nil, "x", []byte("y"))
	h.Process(in1, rec("k2", "v2", 2, 2))
	out := h.Output(0)
	if len(out) != 2 || string(out[1].Key) != "k2" || string(out[1].Value) != "v2" {
		t.Fatalf("the second record was overwritten:\n%s", weirtest.FormatRecords(out))
	}
	if v, _ := out[0].Header("seen"); string(v) != "yes" {
		t.Fatalf("appended header lost:\n%s", weirtest.FormatRecords(out))
	}
}

func TestCodeString(t *testing.T) {
	for c, want := range map[weir.Code]string{0: "OK", 1: "NOT_FOUND", 9: "INTERNAL", 10: "UNAVAILABLE", 11: "UNKNOWN(11)", 100: "GUEST_ERROR(100)"} {
		if c.String() != want {
			t.Errorf("Code(%d) = %s, want %s", c, c, want)
		}
	}
	if weir.CodeOf(nil) != weir.OK || weir.CodeOf(&weir.Error{Code: 70000}) != weir.ErrorCode {
		t.Error("CodeOf: nil must be OK and an out-of-range code ErrorCode")
	}
}

// TestConcurrentInstances runs several instances of one operator (sharing its
// package-level state and window handles) at once, as the subtasks of one
// operator do in a process; run with -race.
func TestConcurrentInstances(t *testing.T) {
	win := countWindow("cw", weir.Tumbling(time.Second))
	op := weir.Operator{
		Process: func(ctx *weir.Context, r weir.Record) error {
			n, _, err := errCount.Get(ctx)
			if err != nil {
				return err
			}
			if err := errCount.Set(ctx, n+1); err != nil {
				return err
			}
			return win.Add(ctx, r)
		},
		OnTimer: func(ctx *weir.Context, tm weir.Timer) error {
			_, err := win.OnTimer(ctx, tm)
			return err
		},
	}
	const instances = 4
	hs := make([]*weirtest.Harness, instances)
	for i := range hs {
		hs[i] = weirtest.New(t, op, nil, weirtest.QuietLogs())
	}
	errs := make(chan error, instances)
	for i, h := range hs {
		go func() {
			for j := range 200 {
				if err := h.TryProcess(rec(fmt.Sprint("k", j%7), "x", int64(i*10+j), 1)); err != nil {
					errs <- err
					return
				}
			}
			errs <- h.TryAdvanceWatermark(1 << 40)
		}()
	}
	for range hs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range hs {
		total := 0
		for _, r := range h.Output(0) {
			var n int
			fmt.Sscanf(string(r.Value[bytes.IndexByte(r.Value, '=')+1:]), "%d", &n)
			total += n
		}
		if total != 200 {
			t.Errorf("instance %d: windows counted %d records, want 200", i, total)
		}
	}
}

package weir_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// unhandledPort is where windowOp reports timers that no window handled.
const unhandledPort = 9

// countWindow counts records per window and emits "key [start, end)=n ts=T",
// T being ctx.Timestamp() while it emits.
func countWindow(name string, a weir.Assigner, opts ...weir.WindowOption) *weir.WindowState[int64] {
	return weir.NewWindow(name, a, weir.Int64, weir.WindowFuncs[int64]{
		Add:   func(n int64, _ weir.Record) (int64, error) { return n + 1, nil },
		Merge: func(a, b int64) int64 { return a + b },
		Emit: func(ctx *weir.Context, w weir.Window, n int64) error {
			ctx.Emit(weir.Record{Key: ctx.Key(), Value: fmt.Appendf(nil, "%s %v=%d ts=%d", ctx.Key(), w, n, ctx.Timestamp())})
			return nil
		},
	}, opts...)
}

// windowOp adds records to w (the value "timer <ms>" sets a timer of the
// operator's own instead) and reports unhandled timers on unhandledPort.
func windowOp(t *testing.T, w *weir.WindowState[int64]) *weirtest.Harness {
	return weirtest.New(t, weir.Operator{
		Process: func(ctx *weir.Context, r weir.Record) error {
			var ms int64
			if _, err := fmt.Sscanf(string(r.Value), "timer %d", &ms); err == nil {
				return ctx.SetEventTimer(ms)
			}
			return w.Add(ctx, r)
		},
		OnTimer: func(ctx *weir.Context, tm weir.Timer) error {
			handled, err := w.OnTimer(ctx, tm)
			if err == nil && !handled {
				ctx.EmitTo(unhandledPort, weir.Record{Value: fmt.Appendf(nil, "unhandled %s timer %d", tm.Kind, tm.Time)})
			}
			return err
		},
	}, nil)
}

func at(key string, ts int64) weir.Record { return rec(key, "x", ts, uint64(ts)) }

// fired returns the window results emitted so far and forgets them, checking
// that each record carries the timestamp its text reports.
func fired(t *testing.T, h *weirtest.Harness) []string {
	t.Helper()
	var vs []string
	for _, r := range h.Output(0) {
		if want := fmt.Sprintf("ts=%d", r.Timestamp); !strings.HasSuffix(string(r.Value), want) {
			t.Errorf("result %q was emitted with timestamp %d", r.Value, r.Timestamp)
		}
		vs = append(vs, string(r.Value))
	}
	for _, r := range h.Output(unhandledPort) {
		vs = append(vs, string(r.Value))
	}
	h.ClearOutput()
	return vs
}

func assertEmpty(t *testing.T, h *weirtest.Harness, name string, keys ...string) {
	t.Helper()
	if ts := h.Timers(); len(ts) != 0 {
		t.Errorf("timers left: %v", ts)
	}
	for _, k := range keys {
		if kv := h.State(name, []byte(k)); len(kv) != 0 {
			t.Errorf("window state left for key %s: %q", k, kv)
		}
	}
}

func TestTumblingWindow(t *testing.T) {
	h := windowOp(t, countWindow("tw", weir.Tumbling(10*time.Second)))
	h.Process(at("a", 1000), at("a", 9999), at("b", 5000), at("a", 10000))
	h.AdvanceWatermark(9998)
	check(t, fired(t, h))
	h.AdvanceWatermark(9999)
	check(t, fired(t, h), "a [0, 10000)=2 ts=9999", "b [0, 10000)=1 ts=9999")
	// Late (window [0, 10000) has fired) and dropped: no LateRecordsTo.
	h.Process(at("a", 9999), at("a", -1))
	h.AdvanceWatermark(19999)
	check(t, fired(t, h), "a [10000, 20000)=1 ts=19999")
	assertEmpty(t, h, "tw", "a", "b")
}

func TestSlidingWindow(t *testing.T) {
	h := windowOp(t, countWindow("sw", weir.Sliding(10*time.Second, 5*time.Second)))
	h.Process(at("a", -3000), at("a", 7000), at("a", 12000))
	h.AdvanceWatermark(9999)
	check(t, fired(t, h), "a [-10000, 0)=1 ts=-1", "a [-5000, 5000)=1 ts=4999", "a [0, 10000)=1 ts=9999")
	h.AdvanceWatermark(14999)
	check(t, fired(t, h), "a [5000, 15000)=2 ts=14999")
	h.AdvanceWatermark(30000)
	check(t, fired(t, h), "a [10000, 20000)=1 ts=19999")
	assertEmpty(t, h, "sw", "a")
}

// TestSessionWindow checks that session windows merge, and that the timers of
// the windows merged away are deleted (else they would fire unhandled).
func TestSessionWindow(t *testing.T) {
	h := windowOp(t, countWindow("sess", weir.Session(5*time.Second)))
	h.Process(at("a", 1000), at("a", 10000))
	timers := func() string { return fmt.Sprint(h.Timers()) }
	if got, want := timers(), fmt.Sprint([]weir.Timer{{Kind: weir.EventTime, Time: 5999, Key: []byte("a")}, {Kind: weir.EventTime, Time: 14999, Key: []byte("a")}}); got != want {
		t.Fatalf("timers %s, want %s", got, want)
	}
	// [6000, 11000) touches [1000, 6000) and overlaps [10000, 15000): one session.
	h.Process(at("a", 6000), at("b", 2000), at("a", 30000))
	if got, want := timers(), fmt.Sprint([]weir.Timer{
		{Kind: weir.EventTime, Time: 6999, Key: []byte("b")},
		{Kind: weir.EventTime, Time: 14999, Key: []byte("a")},
		{Kind: weir.EventTime, Time: 34999, Key: []byte("a")},
	}); got != want {
		t.Fatalf("timers after the merge %s, want %s", got, want)
	}
	h.AdvanceWatermark(14999)
	check(t, fired(t, h), "b [2000, 7000)=1 ts=6999", "a [1000, 15000)=3 ts=14999")
	// Extending a session moves its timer.
	h.Process(at("a", 32000))
	h.AdvanceWatermark(34999)
	check(t, fired(t, h))
	h.AdvanceWatermark(40000)
	check(t, fired(t, h), "a [30000, 37000)=2 ts=36999")
	assertEmpty(t, h, "sess", "a", "b")
}

// TestWindowLateness checks allowed lateness (late firing, cleanup) and late
// records sent to a side output.
func TestWindowLateness(t *testing.T) {
	const latePort = 2
	h := windowOp(t, countWindow("lw", weir.Tumbling(10*time.Second), weir.AllowedLateness(5*time.Second), weir.LateRecordsTo(latePort)))
	h.Process(at("a", 1000))
	h.AdvanceWatermark(9999)
	check(t, fired(t, h), "a [0, 10000)=1 ts=9999")
	// Within the lateness: the window fires again at once, with the record.
	h.Process(at("a", 2000))
	check(t, fired(t, h), "a [0, 10000)=2 ts=9999")
	h.AdvanceWatermark(12000)
	check(t, fired(t, h))
	// A window created after its end, within the lateness, fires at once.
	h.Process(at("b", 5000))
	check(t, fired(t, h), "b [0, 10000)=1 ts=9999")
	h.AdvanceWatermark(14999)
	check(t, fired(t, h)) // cleanup only
	assertEmpty(t, h, "lw", "a", "b")

	h.Process(rec("a", "too late", 3000, 77))
	late := h.Output(latePort)
	if len(late) != 1 || string(late[0].Value) != "too late" || late[0].Timestamp != 3000 || late[0].TrackingID != 77 {
		t.Fatalf("late output\n%swant the record as it came", weirtest.FormatRecords(late))
	}
	check(t, fired(t, h))
}

// TestSessionLateness checks a session that merges after it fired, within the
// allowed lateness: its cleanup timer moves too.
func TestSessionLateness(t *testing.T) {
	h := windowOp(t, countWindow("sl", weir.Session(5*time.Second), weir.AllowedLateness(10*time.Second), weir.LateRecordsTo(2)))
	h.Process(at("a", 1000))
	h.AdvanceWatermark(5999)
	check(t, fired(t, h), "a [1000, 6000)=1 ts=5999")
	h.Process(at("a", 4000)) // [4000, 9000) merges into [1000, 9000), not yet due
	check(t, fired(t, h))
	h.AdvanceWatermark(8999)
	check(t, fired(t, h), "a [1000, 9000)=2 ts=8999")
	h.AdvanceWatermark(18999) // the old cleanup timer (15999) must be gone
	check(t, fired(t, h))
	assertEmpty(t, h, "sl", "a")
	h.Process(at("a", 2000))
	if late := h.Output(2); len(late) != 1 {
		t.Fatalf("late output\n%swant the late record", weirtest.FormatRecords(late))
	}
}

// TestWindowForeignTimers checks that OnTimer does not claim timers that are
// not its own.
func TestWindowForeignTimers(t *testing.T) {
	for _, a := range []weir.Assigner{weir.Tumbling(time.Second), weir.Sliding(2*time.Second, time.Second), weir.Session(time.Second)} {
		h := windowOp(t, countWindow("fw", a))
		h.Process(rec("a", "timer 123", 1, 1), at("a", 500))
		h.AdvanceWatermark(10000)
		got := fired(t, h)
		if n := strings.Count(strings.Join(got, ","), "unhandled"); n != 1 || got[len(got)-1] != "unhandled event-time timer 123" || len(got) < 2 {
			t.Errorf("%+v: got %q, want timer 123 unhandled and the windows handled", a, got)
		}
	}
}

func TestWindowErrors(t *testing.T) {
	h := windowOp(t, countWindow("ew", weir.Tumbling(time.Second)))
	err := h.TryProcess(rec("a", "x", weir.NoTimestamp, 1))
	wantBatchError(t, err, 0, weir.ErrorCode)
	if !strings.Contains(err.Error(), "no timestamp") {
		t.Fatalf("error %q does not say the record has no timestamp", err)
	}
	panics := []func(){
		func() { weir.NewWindow("p", weir.Assigner{}, weir.Int64, weir.WindowFuncs[int64]{}) },
		func() { weir.NewWindow("p", weir.Tumbling(time.Second), weir.Int64, weir.WindowFuncs[int64]{}) },
		func() {
			weir.NewWindow("p", weir.Session(time.Second), weir.Int64, weir.WindowFuncs[int64]{
				Add:  func(n int64, _ weir.Record) (int64, error) { return n, nil },
				Emit: func(*weir.Context, weir.Window, int64) error { return nil },
			})
		},
		func() { weir.Tumbling(time.Microsecond) },
		func() { weir.LateRecordsTo(256) },
	}
	for i, f := range panics {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("declaration %d did not panic", i)
				}
			}()
			f()
		}()
	}
}

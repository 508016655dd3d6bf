package weirtest_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

var seen = weir.NewValueState("seen", weir.Int64)

// countOp emits, for each record, how many records its key has had.
var countOp = weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
	n, _, err := seen.Get(ctx)
	if err != nil {
		return err
	}
	if err := seen.Set(ctx, n+1); err != nil {
		return err
	}
	ctx.Emit(weir.Record{Key: r.Key, Value: strconv.AppendInt(nil, n+1, 10)})
	return nil
}}

// TestHarness is the harness as an operator author uses it.
func TestHarness(t *testing.T) {
	h := weirtest.New(t, countOp, nil)
	h.Process(
		weir.Record{Key: []byte("go"), Timestamp: 1000, TrackingID: 1},
		weir.Record{Key: []byte("rust"), Timestamp: 1001, TrackingID: 2},
		weir.Record{Key: []byte("go"), Timestamp: 1002, TrackingID: 3},
	)
	var got []string
	for _, r := range h.Output(0) {
		got = append(got, fmt.Sprintf("%s=%s at %d (message %d)", r.Key, r.Value, r.Timestamp, r.TrackingID))
	}
	want := []string{"go=1 at 1000 (message 1)", "rust=1 at 1001 (message 2)", "go=2 at 1002 (message 3)"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}

	// A restart keeps state (it lives in the host), not the instance.
	h.Restart()
	h.ClearOutput()
	h.Process(weir.Record{Key: []byte("go"), Timestamp: 1003, TrackingID: 4})
	if out := h.Output(0); len(out) != 1 || string(out[0].Value) != "3" {
		t.Fatalf("after a restart got\n%s", weirtest.FormatRecords(out))
	}
}

// TestRollback checks that a failed batch leaves no state, timer or output,
// and that a failed timer batch leaves its timers pending (ABI §8).
func TestRollback(t *testing.T) {
	failing := weir.Operator{
		Process: func(ctx *weir.Context, r weir.Record) error {
			if err := seen.Set(ctx, 7); err != nil {
				return err
			}
			if err := ctx.SetEventTimer(100); err != nil {
				return err
			}
			ctx.Emit(r)
			if string(r.Value) == "fail" {
				return errors.New("fail")
			}
			return nil
		},
		OnTimer: func(ctx *weir.Context, tm weir.Timer) error {
			if err := seen.Clear(ctx); err != nil {
				return err
			}
			return errors.New("timer fails")
		},
	}
	h := weirtest.New(t, failing, nil)
	if err := h.TryProcess(weir.Record{Key: []byte("a")}, weir.Record{Key: []byte("b"), Value: []byte("fail")}); err == nil {
		t.Fatal("the batch did not fail")
	}
	if len(h.State("seen", []byte("a"))) != 0 || len(h.Timers()) != 0 || len(h.Ports()) != 0 {
		t.Fatalf("a failed batch left state %q, timers %v, output on %v", h.State("seen", []byte("a")), h.Timers(), h.Ports())
	}
	h.Process(weir.Record{Key: []byte("a")})
	if err := h.TryAdvanceWatermark(100); err == nil {
		t.Fatal("the timer batch did not fail")
	}
	if len(h.Timers()) != 1 || len(h.State("seen", []byte("a"))) != 1 {
		t.Fatalf("a failed timer batch lost its timer (%v) or state (%q)", h.Timers(), h.State("seen", []byte("a")))
	}
}

func TestAdvanceErrors(t *testing.T) {
	h := weirtest.New(t, weir.Operator{
		Process: func(ctx *weir.Context, r weir.Record) error { return ctx.SetEventTimer(5) },
		OnTimer: func(ctx *weir.Context, tm weir.Timer) error { return ctx.SetEventTimer(tm.Time) },
	}, nil)
	h.AdvanceWatermark(1)
	if err := h.TryAdvanceWatermark(0); err == nil {
		t.Error("the watermark went backwards")
	}
	if err := h.TryAdvanceProcessingTime(-1); err == nil {
		t.Error("processing time went backwards")
	}
	h.Process(weir.Record{Key: []byte("k")})
	if err := h.TryAdvanceWatermark(10); err == nil || !strings.Contains(err.Error(), "kept firing") {
		t.Errorf("a timer that re-sets itself: %v, want the round limit", err)
	}
}

package conformancetest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// newEngine returns a host engine with cfg, closed when tb ends.
func newEngine(tb testing.TB, cfg host.Config) *host.Engine {
	tb.Helper()
	ctx := context.Background()
	engine, err := host.NewEngine(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { engine.Close(ctx) })
	return engine
}

// loadModule loads the Wasm module at path into engine under name, with
// limits lim, and closes it when tb ends.
func loadModule(tb testing.TB, engine *host.Engine, name, path string, lim host.Limits) *host.Module {
	tb.Helper()
	ctx := context.Background()
	wasm, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	mod, err := engine.Load(ctx, name, wasm, lim)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mod.Close(ctx) })
	return mod
}

// newInstance makes an operator instance of mod with info, closed when tb
// ends.
func newInstance(tb testing.TB, mod *host.Module, info runtime.OperatorInfo) runtime.Operator {
	tb.Helper()
	op, err := mod.NewOperator(context.Background(), info)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { op.Close() })
	return op
}

// guestHarness loads the Wasm module at path under name into an engine of
// its own with cfg, makes an instance with info, and returns a harness that
// drives it, with the guest's logs dropped and opts after that.
func guestHarness(t *testing.T, cfg host.Config, name, path string, info runtime.OperatorInfo, opts ...weirtest.Option) *weirtest.Harness {
	t.Helper()
	op := newInstance(t, loadModule(t, newEngine(t, cfg), name, path, host.Limits{}), info)
	return weirtest.NewProcessor(t, wasmOperator{op}, append([]weirtest.Option{weirtest.QuietLogs()}, opts...)...)
}

// sdkGuest drives the Go SDK's test guest testdata/sdkguest.
func sdkGuest(t *testing.T) *weirtest.Harness {
	t.Helper()
	return guestHarness(t, host.Config{}, "sdkguest", wasmbuild.MustGo(t, "testdata/sdkguest"), runtime.OperatorInfo{Name: "sdkguest", Keyed: true})
}

// TestWasmPanic checks that a panic in a Go guest traps, that the host names
// the entry from the cursor the SDK keeps (ABI §4.4), and that the next batch
// runs on a fresh instance.
func TestWasmPanic(t *testing.T) {
	h := sdkGuest(t)
	err := h.TryProcess(
		weir.Record{Key: []byte("a"), Value: []byte("ok"), Timestamp: 1, TrackingID: 1},
		weir.Record{Key: []byte("b"), Value: []byte("ok"), Timestamp: 2, TrackingID: 2},
		weir.Record{Key: []byte("c"), Value: []byte("panic"), Timestamp: 3, TrackingID: 3},
	)
	var oe *runtime.OperatorError
	if !errors.As(err, &oe) || oe.Entry != 2 || string(oe.Key) != "c" || oe.TrackingID != 3 || oe.Code != 0 ||
		!strings.Contains(err.Error(), "guest panics on purpose") {
		t.Fatalf("got %v, want a trap at entry 2 (key c, tracking id 3) with the panic message", err)
	}
	h.Process(weir.Record{Key: []byte("d"), Value: []byte("after"), Timestamp: 4, TrackingID: 4})
	if out := h.Output(0); len(out) != 1 || string(out[0].Value) != "after" {
		t.Fatalf("after the trap got\n%s", weirtest.FormatRecords(out))
	}
}

// TestWasmStateScan ranges over a map state larger than the SDK's first scan
// buffer, with one pair larger than it, through the real state_scan host
// function (ABI §5.1: chunks, continuation after the last key, growth on
// BUFFER_TOO_SMALL).
func TestWasmStateScan(t *testing.T) {
	h := sdkGuest(t)
	h.Process(weir.Record{Key: []byte("k"), Value: []byte("fill")})
	h.Process(weir.Record{Key: []byte("k"), Value: []byte("range")})
	if out := h.Output(0); len(out) != 1 || string(out[0].Value) != "300 pairs, 599000 bytes" {
		t.Fatalf("got\n%swant 300 pairs, 599000 bytes", weirtest.FormatRecords(out))
	}
}

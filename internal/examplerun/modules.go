package examplerun

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

var (
	engineOnce sync.Once
	engine     *host.Engine
	engineErr  error
)

// sharedEngine returns the host engine of the process, which every module of
// this package is loaded into. Its compile cache is in the temporary
// directory, so that a module is compiled once across test binaries; it is
// never closed.
func sharedEngine(tb testing.TB) *host.Engine {
	tb.Helper()
	engineOnce.Do(func() {
		engine, engineErr = host.NewEngine(context.Background(), host.Config{CacheDir: filepath.Join(os.TempDir(), "weir-example-cache")})
	})
	if engineErr != nil {
		tb.Fatal(engineErr)
	}
	return engine
}

// WasmFile loads the Wasm module at path, a .wasm file that is already
// built, into the shared engine under name, with the host's default limits.
// It fails tb if the file cannot be read or the host refuses the module.
func WasmFile(tb testing.TB, name, path string) *host.Module {
	tb.Helper()
	e := sharedEngine(tb)
	wasm, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := e.Load(context.Background(), name, wasm, host.Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// Wasm builds the Go main package in dir (wasmbuild.MustGo) and loads it
// into the shared engine under the name of dir's parent: the operator
// package whose wasm/ directory dir is.
func Wasm(tb testing.TB, dir string) runtime.OperatorFactory {
	tb.Helper()
	return WasmFile(tb, filepath.Base(filepath.Dir(dir)), wasmbuild.MustGo(tb, dir))
}

// Rust builds the Rust operator at dir (a crate directory, or a .rs file)
// with rustc (wasmbuild.MustRust) and loads it into the shared engine as
// "rust-<base name of dir>".
func Rust(tb testing.TB, dir string) *host.Module {
	tb.Helper()
	return WasmFile(tb, "rust-"+filepath.Base(dir), wasmbuild.MustRust(tb, dir))
}

// C builds the C operator src (a .c file, or a directory of them) with
// clang (wasmbuild.MustC) and loads it into the shared engine under the
// base name of src without ".c".
func C(tb testing.TB, src string) *host.Module {
	tb.Helper()
	return WasmFile(tb, strings.TrimSuffix(filepath.Base(src), ".c"), wasmbuild.MustC(tb, src))
}

// Harness makes an instance of the operator f with info, closed when tb
// ends, and returns a weirtest harness that drives it batch by batch; the
// harness is unkeyed (state and timer calls get NOT_ALLOWED) unless
// info.Keyed is set.
func Harness(tb testing.TB, f runtime.OperatorFactory, info runtime.OperatorInfo) *weirtest.Harness {
	tb.Helper()
	op, err := f.NewOperator(context.Background(), info)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { op.Close() })
	var opts []weirtest.Option
	if !info.Keyed {
		opts = append(opts, weirtest.Unkeyed())
	}
	return weirtest.NewProcessor(tb, wasmOperator{op}, opts...)
}

// wasmOperator adapts an operator of the host to weirtest.Processor.
type wasmOperator struct{ op runtime.Operator }

func (w wasmOperator) Process(batch []byte, h weir.NativeHost) error {
	return w.op.Process(context.Background(), batch, h)
}

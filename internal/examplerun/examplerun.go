// Package examplerun runs the examples' operators through the engine for the
// examples' tests: the Wasm build through the real host, and the native build of
// the same source, on in-memory sources and sinks.
package examplerun

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
)

var (
	engineOnce sync.Once
	engine     *host.Engine
	engineErr  error
)

// Wasm builds the Go main package in dir to Wasm and loads it into a shared
// host engine (its compile cache is in the temporary directory).
func Wasm(tb testing.TB, dir string) runtime.OperatorFactory {
	tb.Helper()
	engineOnce.Do(func() {
		engine, engineErr = host.NewEngine(context.Background(), host.Config{CacheDir: filepath.Join(os.TempDir(), "weir-example-cache")})
	})
	if engineErr != nil {
		tb.Fatal(engineErr)
	}
	path := wasmbuild.MustGo(tb, dir)
	wasm, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := engine.Load(context.Background(), filepath.Base(filepath.Dir(dir)), wasm, host.Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// Run runs job to completion on in-memory state and snapshots, with frequent
// checkpoints, and fails tb if it does not finish.
func Run(tb testing.TB, job *runtime.Job) {
	tb.Helper()
	if job.Checkpoint.Interval == 0 {
		job.Checkpoint.Interval = 20_000_000 // 20ms
	}
	res, err := runtime.Run(context.Background(), job, runtime.Config{
		Store: memory.NewStore(), State: memory.StateFactory{}, WorkDir: tb.TempDir(),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatal(err)
	}
	if !res.Finished {
		tb.Fatalf("the job did not finish: %+v", res)
	}
}

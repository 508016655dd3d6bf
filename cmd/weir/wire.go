package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/plugins/console"
	"github.com/weirstream/weir/plugins/datagen"
	"github.com/weirstream/weir/plugins/discard"
	"github.com/weirstream/weir/plugins/file"
	"github.com/weirstream/weir/plugins/localfs"
	"github.com/weirstream/weir/plugins/pebble"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/jobspec"
)

// maxModuleBytes bounds the size of a Wasm module file a job spec names.
const maxModuleBytes = 256 << 20

// layout is where a job keeps its files under the data directory:
//
//	<data>/cache/wasm/            compiled modules (shared by jobs)
//	<data>/jobs/<job>/snapshots/  checkpoints (a local snapshot store)
//	<data>/jobs/<job>/work/       the subtasks' live state
type layout struct{ dataDir, job string }

func (l layout) wasmCache() string { return filepath.Join(l.dataDir, "cache", "wasm") }
func (l layout) snapshots() string { return filepath.Join(l.dataDir, "jobs", l.job, "snapshots") }
func (l layout) work() string      { return filepath.Join(l.dataDir, "jobs", l.job, "work") }

// registry returns the plugins this binary links, for job specs. The console
// sink writes to stdout.
func registry(engine *host.Engine, stdout io.Writer) jobspec.Registry {
	return jobspec.Registry{
		Sources: map[string]jobspec.SourceFactory{
			"file":    file.NewSource,
			"datagen": datagen.NewSource,
		},
		Sinks: map[string]jobspec.SinkFactory{
			"file":    file.NewSink,
			"console": func(opts json.RawMessage, _ string) (runtime.Sink, error) { return console.NewSinkTo(opts, stdout) },
			"discard": discard.NewSink,
		},
		LoadModule: func(path string, lim jobspec.ModuleLimits) (runtime.OperatorFactory, error) {
			wasm, err := readModule(path)
			if err != nil {
				return nil, err
			}
			return engine.Load(context.Background(), filepath.Base(path), wasm, host.Limits{MemoryBytes: lim.MemoryBytes, CallTimeout: lim.CallTimeout})
		},
	}
}

func readModule(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxModuleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read module %s: %w", path, err)
	}
	if len(data) > maxModuleBytes {
		return nil, fmt.Errorf("module %s is larger than the limit of %d MiB", path, maxModuleBytes>>20)
	}
	return data, nil
}

// loadJob reads and builds the job spec at path with a host engine whose
// compiled modules are cached in cacheDir.
func loadJob(ctx context.Context, path, cacheDir string, log *slog.Logger, stdout io.Writer) (*runtime.Job, *host.Engine, error) {
	engine, err := host.NewEngine(ctx, host.Config{CacheDir: cacheDir, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	job, err := jobspec.Load(path, registry(engine, stdout))
	if err != nil {
		engine.Close(ctx)
		return nil, nil, err
	}
	return job, engine, nil
}

// jobName reads only the name of the job spec at path.
func jobName(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	spec, err := jobspec.Parse(data, path)
	if err != nil {
		return "", err
	}
	return spec.Name(), nil
}

func openStore(dir string) (*localfs.Store, error) { return localfs.New(dir) }

var stateBackend runtime.StateBackendFactory = pebble.Factory{}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/host/extism"
	"github.com/weirstream/weir/plugins/console"
	"github.com/weirstream/weir/plugins/datagen"
	"github.com/weirstream/weir/plugins/discard"
	"github.com/weirstream/weir/plugins/file"
	"github.com/weirstream/weir/plugins/httpcall"
	"github.com/weirstream/weir/plugins/kafka"
	"github.com/weirstream/weir/plugins/localfs"
	"github.com/weirstream/weir/plugins/nats"
	"github.com/weirstream/weir/plugins/nexmark"
	"github.com/weirstream/weir/plugins/pebble"
	"github.com/weirstream/weir/plugins/postgres"
	"github.com/weirstream/weir/plugins/s3"
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

// modules loads the operators of a job: Weir ABI modules through one host
// engine, Extism plugins each on its own. Close releases all of them.
type modules struct {
	engine   *host.Engine
	cacheDir string
	log      *slog.Logger
	plugins  []*extism.Plugin
}

// loadExtism loads the Extism plugin at path for an operator of kind extism.
func (m *modules) loadExtism(path, function string, lim jobspec.ModuleLimits) (runtime.OperatorFactory, error) {
	wasm, err := readModule(path)
	if err != nil {
		return nil, err
	}
	p, err := extism.Load(context.Background(), filepath.Base(path), wasm, extism.Options{
		Function:     function,
		Limits:       host.Limits{MemoryBytes: lim.MemoryBytes, CallTimeout: lim.CallTimeout},
		CacheDir:     m.cacheDir,
		Logger:       m.log,
		MemoryBudget: m.engine.MemoryBudget(),
	})
	if err != nil {
		return nil, err
	}
	m.plugins = append(m.plugins, p)
	return p, nil
}

// Close closes the Extism plugins and the engine.
func (m *modules) Close(ctx context.Context) error {
	var errs []error
	for _, p := range m.plugins {
		errs = append(errs, p.Close(ctx))
	}
	return errors.Join(append(errs, m.engine.Close(ctx))...)
}

// registry returns the plugins this binary links, for job specs. The console
// sink writes to stdout.
func registry(mods *modules, stdout io.Writer) jobspec.Registry {
	return jobspec.Registry{
		Sources: map[string]jobspec.SourceFactory{
			"file":     file.NewSource,
			"datagen":  datagen.NewSource,
			"nexmark":  nexmark.NewSource,
			"postgres": postgres.NewSource,
			"kafka":    kafka.NewSource,
			"nats":     nats.NewSource,
			// NB: `weir server` replaces this with the ingest's source.
			"http": func(json.RawMessage, string) (runtime.Source, error) {
				return nil, errors.New("kind http reads the requests POSTed to weir server's ingest endpoint: submit this job to a weir server (weir job submit) instead of running it with weir run")
			},
		},
		Sinks: map[string]jobspec.SinkFactory{
			"file":     file.NewSink,
			"console":  func(opts json.RawMessage, _ string) (runtime.Sink, error) { return console.NewSinkTo(opts, stdout) },
			"discard":  discard.NewSink,
			"postgres": postgres.NewSink,
			"s3":       s3.NewSink,
			"kafka":    kafka.NewSink,
			"nats":     nats.NewSink,
		},
		Acks: map[string]jobspec.AckFactory{
			"nats":    nats.NewAcks,
			"kafka":   kafka.NewAcks,
			"webhook": httpcall.NewAcks,
		},
		LoadModule: func(path string, lim jobspec.ModuleLimits) (runtime.OperatorFactory, error) {
			wasm, err := readModule(path)
			if err != nil {
				return nil, err
			}
			return mods.engine.Load(context.Background(), filepath.Base(path), wasm, host.Limits{MemoryBytes: lim.MemoryBytes, CallTimeout: lim.CallTimeout})
		},
		LoadExtism: mods.loadExtism,
		NewCaller:  newCaller,
	}
}

// newCaller sends a job's external calls to its HTTP endpoints.
func newCaller(eps []jobspec.Endpoint) (runtime.Caller, error) {
	hs := make([]httpcall.Endpoint, len(eps))
	for i, e := range eps {
		hs[i] = httpcall.Endpoint{Name: e.Name, URL: e.URL, Timeout: e.Timeout, MaxConcurrency: e.MaxConcurrency}
	}
	return httpcall.New(hs)
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
// compiled modules, and the Extism plugins', are cached in cacheDir, and
// whose instances share the guest memory budget.
func loadJob(ctx context.Context, path, cacheDir string, budget *host.MemoryBudget, log *slog.Logger, stdout io.Writer) (*runtime.Job, *modules, error) {
	engine, err := host.NewEngine(ctx, host.Config{CacheDir: cacheDir, Logger: log, MemoryBudget: budget})
	if err != nil {
		return nil, nil, err
	}
	mods := &modules{engine: engine, cacheDir: cacheDir, log: log}
	job, err := jobspec.Load(path, registry(mods, stdout))
	if err != nil {
		mods.Close(ctx)
		return nil, nil, err
	}
	return job, mods, nil
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

package extism

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/host/internal/hosttest"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
)

// pluginsModule is the Go module of the test plugins, which requires go-pdk
// (Weir's go.mod does not).
const pluginsModule = "testdata/plugins"

// pluginWasm builds the test plugin in testdata/plugins/<name> and returns
// its bytes.
func pluginWasm(tb testing.TB, name string) []byte {
	tb.Helper()
	wasm, err := os.ReadFile(wasmbuild.MustGoModule(tb, pluginsModule, "./"+name))
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}

// cacheDir keeps compiled plugins across the loads of one test run and
// across runs.
var cacheDir = filepath.Join(os.TempDir(), "weir-extism-test-cache")

// loadPlugin builds and loads the test plugin name with lim, and closes it
// when tb ends.
func loadPlugin(tb testing.TB, name string, lim host.Limits) *Plugin {
	tb.Helper()
	p, err := Load(context.Background(), name, pluginWasm(tb, name), Options{Limits: lim, CacheDir: cacheDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return p
}

var (
	sharedMu      sync.Mutex
	sharedPlugins = map[string]*Plugin{}
)

// sharedPlugin is loadPlugin with default limits, loaded once per test binary
// (compiling a Go plugin takes about a second) and never closed.
func sharedPlugin(tb testing.TB, name string) *Plugin {
	tb.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if p, ok := sharedPlugins[name]; ok {
		return p
	}
	p, err := Load(context.Background(), name, pluginWasm(tb, name), Options{CacheDir: cacheDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	sharedPlugins[name] = p
	return p
}

// newOperator makes an operator of p and closes it when tb ends.
func newOperator(tb testing.TB, p *Plugin, info runtime.OperatorInfo) runtime.Operator {
	tb.Helper()
	if info.Name == "" {
		info.Name = "op"
	}
	if info.Logger == nil {
		info.Logger = slog.New(slog.DiscardHandler)
	}
	op, err := p.NewOperator(context.Background(), info)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := op.Close(); err != nil {
			tb.Error(err)
		}
	})
	return op
}

// rec is a record for batchOf.
type rec struct {
	key, value string
	ts         int64
}

// batchOf encodes records (tracking id = index + 1).
func batchOf(recs ...rec) []byte {
	var w abi.Writer
	w.Reset()
	for i, r := range recs {
		w.Append(abi.Entry{Key: []byte(r.key), Value: []byte(r.value), Timestamp: r.ts, TrackingID: uint64(i + 1)})
	}
	return w.Detach()
}

// commands is a batch of probe commands, one record per command, with keys
// k0, k1, ...
func commands(cmds ...string) []byte {
	recs := make([]rec, len(cmds))
	for i, c := range cmds {
		recs[i] = rec{key: "k" + string(rune('0'+i)), value: c, ts: int64(100 + i)}
	}
	return batchOf(recs...)
}

// fakeEnv is the shared fake runtime.Env (hosttest.Env: state and timers
// scoped to the entry's key, as the runtime does; emits collected) with this
// package's helpers. Its Fail, if not 0, is returned by Emit too.
type fakeEnv struct{ *hosttest.Env }

// stateKey and timerKey name state values and timers of a fakeEnv.
type (
	stateKey = hosttest.StateKey
	timerKey = hosttest.TimerKey
)

func newFakeEnv() *fakeEnv {
	env := hosttest.NewEnv()
	env.FailEmits = true
	return &fakeEnv{env}
}

// process runs batch through op with f as its Env.
func (f *fakeEnv) process(op runtime.Operator, batch []byte) error {
	f.Batch = batch
	return op.Process(context.Background(), batch, f)
}

// records renders the records emitted to port as "key=value@ts#trackingID",
// in order.
func (f *fakeEnv) records(port uint32) []string {
	var out []string
	for _, e := range f.Emits {
		if e.Port != port {
			continue
		}
		for r := abi.NewReader(e.Batch); r.Next(); {
			en := r.Entry()
			out = append(out, string(en.Key)+"="+string(en.Value)+"@"+itoa(en.Timestamp)+"#"+itoa(int64(en.TrackingID)))
		}
	}
	return out
}

// results returns the values of the records emitted to port 0, in order: the
// probe's command results.
func (f *fakeEnv) results() []string {
	var out []string
	for _, e := range f.Emits {
		if e.Port != 0 {
			continue
		}
		for r := abi.NewReader(e.Batch); r.Next(); {
			out = append(out, string(r.Entry().Value))
		}
	}
	return out
}

// itoa formats n, with "none" for abi.NoTimestamp.
func itoa(n int64) string {
	if n == abi.NoTimestamp {
		return "none"
	}
	return strconv.FormatInt(n, 10)
}

package extism

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host"
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

// fakeEnv is a map-backed runtime.Env that scopes state and timers to the key
// of the entry, as the runtime does, and collects emitted batches.
type fakeEnv struct {
	batch  []byte // the batch being processed, to find entry keys
	state  map[stateKey][]byte
	timers map[timerKey]bool
	emits  []emitted
	logs   []string
	// fail, if not 0, is returned by every state and timer call and by Emit.
	fail uint32
}

type stateKey struct{ key, name, userKey string }

type timerKey struct {
	key  string
	kind uint32
	time int64
}

type emitted struct {
	port  uint32
	batch []byte
}

func newFakeEnv() *fakeEnv {
	return &fakeEnv{state: map[stateKey][]byte{}, timers: map[timerKey]bool{}}
}

var _ runtime.Env = (*fakeEnv)(nil)

func (f *fakeEnv) key(entry uint32) string {
	e, ok := abi.EntryAt(f.batch, int(entry))
	if !ok {
		panic("fakeEnv: the adapter passed a bad entry index")
	}
	return string(e.Key)
}

func (f *fakeEnv) StateGet(entry uint32, name, userKey []byte) ([]byte, uint32) {
	if f.fail != 0 {
		return nil, f.fail
	}
	v, ok := f.state[stateKey{f.key(entry), string(name), string(userKey)}]
	if !ok {
		return nil, uint32(abi.NotFound)
	}
	return v, 0
}

func (f *fakeEnv) StatePut(entry uint32, name, userKey, value []byte) uint32 {
	if f.fail != 0 {
		return f.fail
	}
	f.state[stateKey{f.key(entry), string(name), string(userKey)}] = bytes.Clone(value)
	return 0
}

func (f *fakeEnv) StateDelete(entry uint32, name, userKey []byte) uint32 {
	if f.fail != 0 {
		return f.fail
	}
	delete(f.state, stateKey{f.key(entry), string(name), string(userKey)})
	return 0
}

func (f *fakeEnv) StateClear(entry uint32, name []byte) uint32 {
	if f.fail != 0 {
		return f.fail
	}
	k := f.key(entry)
	for sk := range f.state {
		if sk.key == k && sk.name == string(name) {
			delete(f.state, sk)
		}
	}
	return 0
}

func (f *fakeEnv) StateScan(entry uint32, name, start []byte, fn func(userKey, value []byte) bool) uint32 {
	if f.fail != 0 {
		return f.fail
	}
	k := f.key(entry)
	var uks []string
	for sk := range f.state {
		if sk.key == k && sk.name == string(name) && sk.userKey >= string(start) {
			uks = append(uks, sk.userKey)
		}
	}
	slices.Sort(uks)
	for _, uk := range uks {
		if !fn([]byte(uk), f.state[stateKey{k, string(name), uk}]) {
			break
		}
	}
	return 0
}

func (f *fakeEnv) TimerSet(entry uint32, kind uint32, time int64) uint32 {
	if f.fail != 0 {
		return f.fail
	}
	f.timers[timerKey{f.key(entry), kind, time}] = true
	return 0
}

func (f *fakeEnv) TimerDelete(entry uint32, kind uint32, time int64) uint32 {
	if f.fail != 0 {
		return f.fail
	}
	delete(f.timers, timerKey{f.key(entry), kind, time})
	return 0
}

func (f *fakeEnv) Emit(port uint32, batch []byte) uint32 {
	if f.fail != 0 {
		return f.fail
	}
	f.emits = append(f.emits, emitted{port, bytes.Clone(batch)})
	return 0
}

func (f *fakeEnv) Log(level int32, msg []byte) { f.logs = append(f.logs, string(msg)) }

// process runs batch through op with f as its Env.
func (f *fakeEnv) process(op runtime.Operator, batch []byte) error {
	f.batch = batch
	return op.Process(context.Background(), batch, f)
}

// records renders the records emitted to port as "key=value@ts#trackingID",
// in order.
func (f *fakeEnv) records(port uint32) []string {
	var out []string
	for _, e := range f.emits {
		if e.port != port {
			continue
		}
		for r := abi.NewReader(e.batch); r.Next(); {
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
	for _, e := range f.emits {
		if e.port != 0 {
			continue
		}
		for r := abi.NewReader(e.batch); r.Next(); {
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

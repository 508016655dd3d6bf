package host

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host/internal/hosttest"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
)

// fakeEnv is the shared fake runtime.Env (hosttest.Env: state and timers
// scoped to the entry's key, emits collected; Emit never fails) with this
// package's helpers.
type fakeEnv struct{ *hosttest.Env }

// stateKey and timerKey name state values and timers of a fakeEnv.
type (
	stateKey = hosttest.StateKey
	timerKey = hosttest.TimerKey
)

func newFakeEnv() *fakeEnv { return &fakeEnv{hosttest.NewEnv()} }

// records returns every entry emitted so far, in order.
func (f *fakeEnv) records(t testing.TB) []abi.Entry {
	t.Helper()
	var out []abi.Entry
	for _, em := range f.Emits {
		r := abi.NewReader(em.Batch)
		for r.Next() {
			out = append(out, *r.Entry())
		}
		if r.Err() != nil {
			t.Fatalf("emitted batch does not decode: %v", r.Err())
		}
	}
	return out
}

// values returns the values of every emitted record, as strings.
func (f *fakeEnv) values(t testing.TB) []string {
	var vs []string
	for _, e := range f.records(t) {
		vs = append(vs, string(e.Value))
	}
	return vs
}

// process runs batch through op with env, as the runtime would.
func (f *fakeEnv) process(ctx context.Context, op runtime.Operator, batch []byte) error {
	f.Batch = batch
	abi.SetHeader(batch, abi.NoTimestamp, 1_700_000_000_000)
	return op.Process(ctx, batch, f)
}

// batchOf returns a batch of records with the given keys and values
// (key1, value1, key2, value2, ...), timestamps 1000*i and tracking ids i+1.
func batchOf(kv ...string) []byte {
	var w abi.Writer
	w.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		w.Append(abi.Entry{Key: []byte(kv[i]), Value: []byte(kv[i+1]), Timestamp: int64(1000 * (i / 2)), TrackingID: uint64(i/2 + 1)})
	}
	return w.Detach()
}

// commands returns a batch of records with key "k" whose values are cmds.
func commands(cmds ...string) []byte {
	var kv []string
	for _, c := range cmds {
		kv = append(kv, "k", c)
	}
	return batchOf(kv...)
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testLogger returns a logger that writes text records to the returned buffer.
func testLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// testCacheDir is a compilation cache shared by the tests' engines, so that
// each guest is compiled once per test run rather than once per test.
var testCacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "weir-host-test-cache-")
	if err != nil {
		panic(err)
	}
	testCacheDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// newTestEngine returns an Engine closed at the end of the test, with
// testCacheDir as its cache unless cfg names one, and a discarding logger
// unless cfg has one.
func newTestEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = testCacheDir
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e, err := NewEngine(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

// loadGuest builds the Go guest testdata/guests/<name> and loads it into e.
func loadGuest(t testing.TB, e *Engine, name string, lim Limits) *Module {
	t.Helper()
	wasm, err := os.ReadFile(wasmbuild.MustGo(t, "testdata/guests/"+name))
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.Load(context.Background(), name, wasm, lim)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return m
}

// newOperator makes subtask 0 of operator opName of m, keyed.
func newOperator(t testing.TB, m *Module, info runtime.OperatorInfo) runtime.Operator {
	t.Helper()
	if info.Name == "" {
		info.Name = "op"
	}
	op, err := m.NewOperator(context.Background(), info)
	if err != nil {
		t.Fatalf("new operator: %v", err)
	}
	t.Cleanup(func() { _ = op.Close() })
	return op
}

// wantSubstrings fails t unless s contains every one of subs.
func wantSubstrings(t testing.TB, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q\ndoes not contain %q", s, sub)
		}
	}
}

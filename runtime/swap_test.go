package runtime_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
)

// versionedCount keeps a running count per key and emits "v<version>:<count>".
type versionedCount struct {
	version int
	w       abi.Writer
}

func (o *versionedCount) Process(ctx context.Context, b []byte, env runtime.Env) error {
	o.w.Reset()
	r := abi.NewReader(b)
	for r.Next() {
		e := r.Entry()
		i := uint32(r.Index())
		var n uint64
		if v, code := env.StateGet(i, []byte("n"), nil); code == 0 {
			n = binary.BigEndian.Uint64(v)
		}
		n++
		if code := env.StatePut(i, []byte("n"), nil, binary.BigEndian.AppendUint64(nil, n)); code != 0 {
			return fmt.Errorf("state put: %v", abi.Code(code))
		}
		o.w.Append(abi.Entry{Key: e.Key, Value: fmt.Appendf(nil, "v%d:%d:%s", o.version, n, e.Value), Timestamp: e.Timestamp, TrackingID: e.TrackingID})
	}
	if code := env.Emit(0, o.w.Bytes()); code != 0 {
		return fmt.Errorf("emit: %v", abi.Code(code))
	}
	return nil
}
func (o *versionedCount) Close() error { return nil }

func versionFactory(v int) runtime.OperatorFactory {
	return runtime.OperatorFactoryFunc(func(ctx context.Context, info runtime.OperatorInfo) (runtime.Operator, error) {
		return &versionedCount{version: v}, nil
	})
}

// gatedSource is one unbounded split of records "<key> <seq>" of which only the
// first released can be read.
type gatedSource struct {
	keys     int
	released atomic.Int64
}

func (s *gatedSource) Splits(context.Context) ([]string, error) { return []string{"0"}, nil }
func (s *gatedSource) Open(ctx context.Context, split string, pos []byte, env runtime.SourceEnv) (runtime.SplitReader, error) {
	r := &gatedReader{s: s}
	if len(pos) == 8 {
		r.next = int64(binary.BigEndian.Uint64(pos))
	}
	return r, nil
}

type gatedReader struct {
	s    *gatedSource
	next int64
}

func (r *gatedReader) Read(ctx context.Context, w *abi.Writer, max int) (int, error) {
	n := 0
	for ; n < max && r.next < r.s.released.Load(); n++ {
		w.Append(abi.Entry{Key: []byte(fmt.Sprintf("k%d", r.next%int64(r.s.keys))), Value: strconv.AppendInt(nil, r.next, 10), Timestamp: r.next})
		r.next++
	}
	return n, nil
}
func (r *gatedReader) Position() []byte { return binary.BigEndian.AppendUint64(nil, uint64(r.next)) }
func (r *gatedReader) Close() error     { return nil }

type resolver map[string]runtime.OperatorFactory

func (m resolver) ResolveModule(ctx context.Context, op, module string) (runtime.OperatorFactory, error) {
	if f := m[module]; f != nil {
		return f, nil
	}
	return nil, fmt.Errorf("no module %s", module)
}

func swapJob(src *gatedSource, sink *memory.Sink) *runtime.Job {
	return &runtime.Job{
		Name:       "swap",
		Checkpoint: runtime.CheckpointConfig{Interval: time.Hour},
		Restart:    runtime.RestartConfig{Attempts: runtime.NoRestarts},
		Sources:    []*runtime.SourceNode{{Name: "in", Parallelism: 1, Source: src}},
		Operators: []*runtime.OperatorNode{
			{Name: "count", Parallelism: 3, Inputs: []runtime.Input{{From: "in", Partition: runtime.KeyBy}}, Factory: versionFactory(0), Module: "v0"},
		},
		Sinks: []*runtime.SinkNode{{Name: "out", Parallelism: 1, Inputs: []runtime.Input{{From: "count", Partition: runtime.Rebalance}}, Sink: sink}},
	}
}

// TestSwapModule swaps the module of a keyed operator several times while
// records flow, and checks that every record went through the module live in
// its phase, that state carried over, and that a restart after the swaps runs
// the last module.
func TestSwapModule(t *testing.T) {
	const keys, perPhase, swaps = 7, 500, 5
	src := &gatedSource{keys: keys}
	sink := memory.NewSink()
	mods := resolver{}
	for v := 0; v <= swaps; v++ {
		mods[fmt.Sprintf("v%d", v)] = versionFactory(v)
	}
	store := memory.NewStore()
	cfg := runtime.Config{Store: store, State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t), Modules: mods}
	ctx := context.Background()
	x, err := runtime.Start(ctx, swapJob(src, sink), cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitWritten := func(n int64) {
		t.Helper()
		for x.Stats().Records()["out"] < n {
			select {
			case <-x.Done():
				_, err := x.Wait()
				t.Fatalf("job ended: %v", err)
			case <-time.After(time.Millisecond):
			}
		}
	}
	for v := 1; v <= swaps; v++ {
		src.released.Add(perPhase)
		waitWritten(int64(v * perPhase))
		id, err := x.SwapModule(ctx, runtime.SwapRequest{Operator: "count", Module: fmt.Sprintf("v%d", v), Factory: versionFactory(v)})
		if err != nil {
			t.Fatalf("swap %d: %v", v, err)
		}
		t.Logf("swap to v%d at checkpoint %d", v, id)
	}
	// A refused swap leaves the job on its module.
	_, err = x.SwapModule(ctx, runtime.SwapRequest{Operator: "count", Module: "bad", Factory: runtime.OperatorFactoryFunc(func(context.Context, runtime.OperatorInfo) (runtime.Operator, error) {
		return nil, errors.New("instantiation failed")
	})})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("swap to a failing module: %v, want a refusal", err)
	}
	if _, err := x.SwapModule(ctx, runtime.SwapRequest{Operator: "nope", Module: "v1", Factory: versionFactory(1)}); err == nil {
		t.Fatal("swap of an unknown operator succeeded")
	}
	hist := x.ModuleHistory()
	if len(hist) != swaps+1 || hist[len(hist)-1].Module != fmt.Sprintf("v%d", swaps) {
		t.Fatalf("module history %+v", hist)
	}
	src.released.Add(perPhase)
	waitWritten(int64((swaps + 1) * perPhase))
	x.Stop()
	if _, err := x.Wait(); err != nil {
		t.Fatal(err)
	}

	// A restart restores the last module from the checkpoint, not the job's v0.
	src.released.Add(perPhase)
	x2, err := runtime.Start(ctx, swapJob(src, sink), cfg)
	if err != nil {
		t.Fatal(err)
	}
	x = x2
	waitWritten(perPhase)
	x2.Stop()
	if _, err := x2.Wait(); err != nil {
		t.Fatal(err)
	}

	// Every record once, in the version of its phase, with counts per key that
	// go up by one across every swap.
	got := sink.Committed()
	if len(got) != (swaps+2)*perPhase {
		t.Fatalf("%d committed records, want %d", len(got), (swaps+2)*perPhase)
	}
	seen := map[int]bool{}
	for _, line := range got {
		_, v, n, seq := versionedLine(t, line, seen)
		if phase := min(seq/perPhase, swaps); v != phase {
			t.Errorf("record %d (phase %d) went through v%d", seq, phase, v)
		}
		if want := seq/keys + 1; n != want {
			t.Errorf("record %d: count %d, want %d (state lost or doubled)", seq, n, want)
		}
	}
}

// versionedLine parses a committed line "key=v<version>:<count>:<seq>" of the
// versioned count operators, and fails the test when seq is in seen (a record
// committed twice), which it then joins.
func versionedLine(t *testing.T, line string, seen map[int]bool) (key string, v, n, seq int) {
	t.Helper()
	key, val, _ := strings.Cut(line, "=")
	if _, err := fmt.Sscanf(strings.ReplaceAll(val, ":", " "), "v%d %d %d", &v, &n, &seq); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	if seen[seq] {
		t.Fatalf("record %d committed twice", seq)
	}
	seen[seq] = true
	return key, v, n, seq
}

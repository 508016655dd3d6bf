package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/plugins/pebble"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
)

// callOp calls, for each record whose value is "ENDPOINT:REQUEST:KEY", that
// endpoint through Env.Call and emits "STATUS BODY" or "code N" under the
// record's key; with noCall it emits the value as it is.
type callOp struct {
	w      abi.Writer
	noCall bool
}

func (o *callOp) Process(ctx context.Context, b []byte, env runtime.Env) error {
	o.w.Reset()
	r := abi.NewReader(b)
	for i := uint32(0); r.Next(); i++ {
		e := r.Entry()
		if o.noCall {
			o.w.Append(abi.Entry{Key: e.Key, Value: e.Value, Timestamp: e.Timestamp})
			continue
		}
		f := bytes.SplitN(e.Value, []byte(":"), 3)
		resp, code := env.Call(i, f[0], f[1], f[2])
		out := fmt.Appendf(nil, "code %d", code)
		if code == 0 {
			status, body, _ := abi.ParseCallResponse(resp)
			out = fmt.Appendf(nil, "%d %s", status, body)
		}
		o.w.Append(abi.Entry{Key: e.Key, Value: out, Timestamp: e.Timestamp})
	}
	if code := env.Emit(0, o.w.Bytes()); code != 0 {
		return fmt.Errorf("emit: %v", abi.Code(code))
	}
	return nil
}

func (o *callOp) Close() error { return nil }

// fakeCaller answers "svc" with 200 "r:REQUEST", fails "down" without a
// response, and knows no other endpoint. It counts the calls per key.
type fakeCaller struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *fakeCaller) Call(_ context.Context, endpoint string, request, key []byte) (runtime.CallResponse, error) {
	c.mu.Lock()
	c.calls[string(key)]++
	c.mu.Unlock()
	switch endpoint {
	case "svc":
		return runtime.CallResponse{Status: 200, Body: append([]byte("r:"), request...)}, nil
	case "down":
		return runtime.CallResponse{}, errors.New("time-out")
	}
	return runtime.CallResponse{}, fmt.Errorf("endpoint %q: %w", endpoint, runtime.ErrUnknownEndpoint)
}

func callJob(recs []memory.Record, sink runtime.Sink, caller runtime.Caller, part runtime.Partitioning, noCall bool) *runtime.Job {
	return &runtime.Job{
		Name:       "calls",
		Checkpoint: runtime.CheckpointConfig{Interval: 10 * time.Millisecond},
		Sources:    []*runtime.SourceNode{{Name: "in", Parallelism: 1, Source: memory.NewSource(recs)}},
		Operators: []*runtime.OperatorNode{{Name: "call", Parallelism: 1, Inputs: []runtime.Input{{From: "in", Partition: part}},
			Factory: runtime.OperatorFactoryFunc(func(context.Context, runtime.OperatorInfo) (runtime.Operator, error) {
				return &callOp{noCall: noCall}, nil
			})}},
		Sinks:  []*runtime.SinkNode{{Name: "out", Parallelism: 1, Inputs: []runtime.Input{{From: "call"}}, Sink: sink}},
		Caller: caller,
	}
}

// TestCallJournal checks the runtime's side of the call host function
// (abi/ABI.md §5.3): responses are journaled per record key and idempotency
// key and answered from the journal the second time; a key reused with
// another request is BAD_ARGUMENT; an unknown endpoint NOT_FOUND; no response
// UNAVAILABLE (not journaled); and an input that is not keyed NOT_ALLOWED.
func TestCallJournal(t *testing.T) {
	recs := []memory.Record{
		{Key: "a", Value: "svc:x:k1"},
		{Key: "a", Value: "svc:x:k1"},  // journaled
		{Key: "a", Value: "svc:y:k1"},  // the same key, another request
		{Key: "a", Value: "nope:x:k2"}, // unknown endpoint
		{Key: "a", Value: "down:x:k3"}, // no response
		{Key: "a", Value: "down:x:k3"}, // not journaled: called again
		{Key: "b", Value: "svc:x:k1"},  // another record key: its own journal
	}
	for _, tt := range []struct {
		name  string
		part  runtime.Partitioning
		want  []string
		calls map[string]int
	}{
		{"keyed", runtime.KeyBy,
			[]string{"a=200 r:x", "a=200 r:x", "a=code 1", "a=code 10", "a=code 10", "a=code 5", "b=200 r:x"},
			map[string]int{"k1": 2, "k2": 1, "k3": 2}},
		{"not keyed", runtime.Forward,
			[]string{"a=code 8", "a=code 8", "a=code 8", "a=code 8", "a=code 8", "a=code 8", "b=code 8"},
			map[string]int{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			caller := &fakeCaller{calls: map[string]int{}}
			sink := memory.NewSink()
			_, err := runtime.Run(context.Background(), callJob(recs, sink, caller, tt.part, false),
				runtime.Config{Store: memory.NewStore(), State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("committed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if fmt.Sprint(caller.calls) != fmt.Sprint(tt.calls) {
				t.Errorf("calls per key %v, want %v", caller.calls, tt.calls)
			}
		})
	}
}

// BenchmarkCallJournal measures what a journaled call costs the runtime
// beyond the external call itself (here a Caller that answers at once): the
// journal look-up, the request digest and the journal write, per record, as
// the difference between a job whose operator calls for every record (each
// with a new idempotency key) and the same job emitting without calling, on
// the Pebble state backend. (The memory backend keeps a sorted slice, whose
// inserts grow with the state: it would measure itself.)
func BenchmarkCallJournal(b *testing.B) {
	const n = 100_000
	recs := make([]memory.Record, n)
	for i := range recs {
		recs[i] = memory.Record{Key: fmt.Sprintf("key-%d", i%1000), Value: fmt.Sprintf("svc:order %d of 32 bytes........:order-%d", i, i)}
	}
	run := func(b *testing.B, noCall bool) {
		for b.Loop() {
			caller := &fakeCaller{calls: map[string]int{}}
			job := callJob(recs, memory.NewSink(), caller, runtime.KeyBy, noCall)
			job.Checkpoint.Interval = time.Second
			if _, err := runtime.Run(context.Background(), job, runtime.Config{Store: memory.NewStore(), State: pebble.Factory{}, WorkDir: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/record")
	}
	b.Run("no-call", func(b *testing.B) { run(b, true) })
	b.Run("call", func(b *testing.B) { run(b, false) })
}

// shiftedClock is the wall clock moved forward by what Advance adds up, so
// that checkpoints keep their pace while the test jumps processing time.
type shiftedClock struct{ off atomic.Int64 }

func (c *shiftedClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *shiftedClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// TestCallJournalTTL checks the expiry of the call journal (docs/calls.md,
// journal TTL) across restores from checkpoints: a response within its TTL
// is replayed after a restore without calling the endpoint again, and one
// past its TTL has been deleted by its expiry timer (restored with the
// checkpoint), so the next call with its key reaches the endpoint again.
func TestCallJournalTTL(t *testing.T) {
	recs := []memory.Record{
		{Key: "a", Value: "svc:x:k1"}, // run 1 at T: called, kept until T+1h
		{Key: "a", Value: "svc:x:k1"}, // run 2 at T+45m: within the TTL, from the journal
		{Key: "a", Value: "svc:y:k2"}, // run 2: called, kept until T+1h45m
		{Key: "a", Value: "svc:x:k1"}, // run 3 at T+1h30m: expired, called again
		{Key: "a", Value: "svc:y:k2"}, // run 3: within its TTL, from the journal
	}
	ctx := context.Background()
	caller := &fakeCaller{calls: map[string]int{}}
	store, sink, clock := memory.NewStore(), memory.NewSink(), &shiftedClock{}
	job := func(n int, unbounded bool) *runtime.Job {
		src := memory.NewSource(recs[:n])
		if unbounded {
			src = src.Unbounded()
		}
		j := callJob(nil, sink, caller, runtime.KeyBy, false)
		j.Sources[0].Source = src
		j.CallJournalTTL = map[string]time.Duration{"svc": time.Hour}
		return j
	}
	cfg := func() runtime.Config {
		return runtime.Config{Store: store, State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t), Clock: clock}
	}
	// stopAfter runs the first n records (restoring the last checkpoint) and
	// stops the job with a final checkpoint once it has read want of them.
	stopAfter := func(n int, want int64) {
		t.Helper()
		x, err := runtime.Start(ctx, job(n, true), cfg())
		if err != nil {
			t.Fatal(err)
		}
		waitFor(func() bool { return x.Stats().Records()["in"] == want })
		x.Stop()
		if _, err := x.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	checkCalls := func(run string, want map[string]int) {
		t.Helper()
		caller.mu.Lock()
		defer caller.mu.Unlock()
		if fmt.Sprint(caller.calls) != fmt.Sprint(want) {
			t.Fatalf("after %s: calls per key %v, want %v", run, caller.calls, want)
		}
	}
	stopAfter(1, 1)
	checkCalls("run 1", map[string]int{"k1": 1})
	clock.Advance(45 * time.Minute)
	stopAfter(3, 2)
	checkCalls("run 2 (k1 within its TTL)", map[string]int{"k1": 1, "k2": 1})
	clock.Advance(45 * time.Minute)
	if res, err := runtime.Run(ctx, job(5, false), cfg()); err != nil || !res.Finished {
		t.Fatalf("run 3: %+v, %v", res, err)
	}
	checkCalls("run 3 (k1 expired, k2 within its TTL)", map[string]int{"k1": 2, "k2": 1})
	want := []string{"a=200 r:x", "a=200 r:x", "a=200 r:x", "a=200 r:y", "a=200 r:y"} // sorted, as Committed is
	if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("committed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

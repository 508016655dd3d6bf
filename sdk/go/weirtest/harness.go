package weirtest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/internal/wire"
)

// maxTimerRounds bounds the batches of timers one Advance call delivers: each
// round fires the timers that are due, which may set new due timers. An
// operator that keeps doing so fails the call instead of hanging the test.
const maxTimerRounds = 10_000

// Log is one message an operator logged.
type Log struct {
	Level weir.LogLevel
	Msg   string
}

// KV is one user key of a state and its value.
type KV struct {
	UserKey, Value []byte
}

// Option configures a Harness.
type Option func(*Harness)

// Unkeyed makes the harness behave like a host whose input is not
// key-partitioned: every state and timer call returns NotAllowed (ABI §6).
func Unkeyed() Option { return func(h *Harness) { h.host.keyed = false } }

// WrapHost puts wrap's result between the operator and the in-memory host, for
// example to inject host failures. wrap is called once, by New.
func WrapHost(wrap func(weir.NativeHost) weir.NativeHost) Option {
	return func(h *Harness) { h.nh = wrap(h.nh) }
}

// Endpoint answers a call (weir.Context.Call) to an endpoint of the job. An
// error stands for no response: the call fails with Unavailable.
type Endpoint func(request, key []byte) (weir.Response, error)

// WithEndpoint makes Context.Call to name reach ep. Responses are journaled
// per record key and idempotency key, as the runtime does: ep sees each key
// once, unless a batch that called it failed.
func WithEndpoint(name string, ep Endpoint) Option {
	return func(h *Harness) {
		if h.host.endpoints == nil {
			h.host.endpoints = map[string]Endpoint{}
		}
		h.host.endpoints[name] = ep
	}
}

// QuietLogs stops the harness from copying the operator's log messages to the
// test log (Logs still returns them).
func QuietLogs() Option { return func(h *Harness) { h.host.logHandler = nil } }

// Harness runs one operator instance natively (weir.NewNative) over an
// in-memory host: keyed state scoped like the runtime's, event-time and
// processing-time timers, a watermark and a processing time that the test
// advances, and the records emitted to each port. A batch that fails leaves
// no state, timer or output behind, as in the runtime (ABI §8).
//
//	h := weirtest.New(t, myop.Operator, nil)
//	h.Process(weir.Record{Key: []byte("k"), Value: []byte("v"), Timestamp: 1000})
//	h.AdvanceWatermark(60_000)
//	got := h.Output(0)
//
// A Harness is not safe for concurrent use.
type Harness struct {
	tb        testing.TB
	restart   func() (Processor, error) // nil: Restart is not supported
	proc      Processor
	host      *memHost
	nh        weir.NativeHost
	watermark int64
	procTime  int64
	out       map[int][]weir.Record
	w         wire.Writer
}

// New makes an instance of op with config (Init runs) and a fresh keyed
// in-memory host. The watermark starts at weir.NoTimestamp and the processing
// time at 0. It fails tb if Init fails.
func New(tb testing.TB, op weir.Operator, config []byte, opts ...Option) *Harness {
	tb.Helper()
	restart := func() (Processor, error) { return weir.NewNative(op, config) }
	p, err := restart()
	if err != nil {
		tb.Fatalf("weirtest: %v", err)
	}
	h := newHarness(tb, p, opts)
	h.restart = restart
	return h
}

// Processor is what a Harness drives: an operator instance that runs encoded
// batches against a host. *weir.Native is one; so is, through a small adapter,
// the host's Wasm operator (a runtime.Env is a weir.NativeHost), which is how
// the same tests run against the Wasm build.
type Processor interface {
	Process(batch []byte, host weir.NativeHost) error
}

// NewProcessor returns a Harness that drives p instead of a native instance
// of an Operator. Restart is not supported.
func NewProcessor(tb testing.TB, p Processor, opts ...Option) *Harness {
	return newHarness(tb, p, opts)
}

func newHarness(tb testing.TB, p Processor, opts []Option) *Harness {
	h := &Harness{tb: tb, proc: p, host: newMemHost(true), watermark: weir.NoTimestamp, out: map[int][]weir.Record{}}
	h.host.logHandler = func(l Log) { tb.Logf("operator log [%d]: %s", l.Level, l.Msg) }
	h.nh = h.host
	for _, o := range opts {
		o(h)
	}
	return h
}

// Restart replaces the operator instance with a new one (Init runs again),
// keeping state, timers, watermark and output: what a restart from a
// checkpoint looks like to an operator that keeps nothing outside state.
func (h *Harness) Restart() {
	h.tb.Helper()
	if h.restart == nil {
		h.tb.Fatal("weirtest: Restart needs a Harness made by New")
	}
	p, err := h.restart()
	if err != nil {
		h.tb.Fatalf("weirtest: Restart: %v", err)
	}
	h.proc = p
}

// Process runs recs through the operator as one batch, with the current
// watermark and processing time, and fails the test if the batch fails. The
// records are taken as they are: Timestamp 0 is the epoch, not "inherit".
func (h *Harness) Process(recs ...weir.Record) {
	h.tb.Helper()
	if err := h.TryProcess(recs...); err != nil {
		h.tb.Fatalf("weirtest: Process: %v", err)
	}
}

// TryProcess is Process returning the batch's error (a *weir.BatchError for a
// Harness made by New) instead of failing the test.
func (h *Harness) TryProcess(recs ...weir.Record) error {
	h.w.Reset()
	h.w.SetWatermark(h.watermark)
	h.w.SetProcessingTime(h.procTime)
	for _, r := range recs {
		h.w.Append(wire.KindRecord, r.Key, r.Value, r.Headers, r.Timestamp, r.TrackingID)
	}
	return h.ProcessBatch(h.w.Bytes())
}

// ProcessBatch runs an encoded batch (ABI §4) through the operator as the
// runtime would, and returns its error. Tests use it for batches Process
// cannot make, such as records and timers mixed, or malformed input.
func (h *Harness) ProcessBatch(batch []byte) error {
	keys := make([][]byte, 0, 16)
	var r wire.Reader
	r.Reset(batch)
	for r.Next() {
		keys = append(keys, r.Entry().Key)
	}
	h.host.begin(keys)
	return h.run(batch)
}

// run processes batch, whose host batch was begun, and commits or rolls back.
func (h *Harness) run(batch []byte) error {
	err := h.proc.Process(batch, h.nh)
	for _, pr := range h.host.end(err == nil) {
		h.out[pr.port] = append(h.out[pr.port], pr.rec)
	}
	return err
}

// AdvanceWatermark sets the watermark to ms and fires every event-time timer at
// or before it, ordered by time and then key, as batches of timer entries
// (ABI §4.2) whose header carries the new watermark. Timers that firing sets
// at or before ms fire in a further batch. It fails the test if ms is behind
// the watermark or a batch fails.
func (h *Harness) AdvanceWatermark(ms int64) {
	h.tb.Helper()
	if err := h.TryAdvanceWatermark(ms); err != nil {
		h.tb.Fatalf("weirtest: AdvanceWatermark(%d): %v", ms, err)
	}
}

// TryAdvanceWatermark is AdvanceWatermark returning the error instead of
// failing the test. The watermark stays advanced after a failed batch.
func (h *Harness) TryAdvanceWatermark(ms int64) error {
	if ms < h.watermark {
		return fmt.Errorf("watermark %d is behind the current one, %d", ms, h.watermark)
	}
	h.watermark = ms
	return h.fire(weir.EventTime, ms)
}

// AdvanceProcessingTime sets the processing time to ms and fires every
// processing-time timer at or before it, like AdvanceWatermark.
func (h *Harness) AdvanceProcessingTime(ms int64) {
	h.tb.Helper()
	if err := h.TryAdvanceProcessingTime(ms); err != nil {
		h.tb.Fatalf("weirtest: AdvanceProcessingTime(%d): %v", ms, err)
	}
}

// TryAdvanceProcessingTime is AdvanceProcessingTime returning the error
// instead of failing the test.
func (h *Harness) TryAdvanceProcessingTime(ms int64) error {
	if ms < h.procTime {
		return fmt.Errorf("processing time %d is behind the current one, %d", ms, h.procTime)
	}
	h.procTime = ms
	return h.fire(weir.ProcessingTime, ms)
}

func (h *Harness) fire(kind weir.TimerKind, ms int64) error {
	for range maxTimerRounds {
		h.host.begin(nil)
		due := h.host.removeDue(kind, ms)
		if len(due) == 0 {
			h.host.end(true)
			return nil
		}
		h.w.Reset()
		h.w.SetWatermark(h.watermark)
		h.w.SetProcessingTime(h.procTime)
		keys := make([][]byte, len(due))
		for i, t := range due {
			keys[i] = []byte(t.key)
			h.w.Append(uint8(kind), keys[i], nil, nil, t.time, 0)
		}
		h.host.keys = keys
		if err := h.run(h.w.Bytes()); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s timers kept firing for %d batches", kind, maxTimerRounds)
}

// Watermark returns the current watermark.
func (h *Harness) Watermark() int64 { return h.watermark }

// ProcessingTime returns the current processing time.
func (h *Harness) ProcessingTime() int64 { return h.procTime }

// Output returns the records emitted to port so far (since New or
// ClearOutput), in order.
func (h *Harness) Output(port int) []weir.Record { return slices.Clone(h.out[port]) }

// Ports returns the ports that have output, in ascending order.
func (h *Harness) Ports() []int {
	var ps []int
	for p, rs := range h.out {
		if len(rs) > 0 {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	return ps
}

// ClearOutput forgets the output collected so far.
func (h *Harness) ClearOutput() { clear(h.out) }

// Timers returns the pending timers, ordered by kind, time and key.
func (h *Harness) Timers() []weir.Timer {
	ids := make([]timerID, 0, len(h.host.timers))
	for id := range h.host.timers {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareTimers)
	ts := make([]weir.Timer, len(ids))
	for i, id := range ids {
		ts[i] = weir.Timer{Kind: id.kind, Time: id.time, Key: []byte(id.key)}
	}
	return ts
}

// State returns the user keys and values of state name for record key key,
// ordered by user key: the raw bytes, as the host stores them.
func (h *Harness) State(name string, key []byte) []KV {
	vs := h.host.values(stateID{name: name, key: string(key)}, false)
	kvs := make([]KV, 0, len(vs))
	for uk, v := range vs {
		kvs = append(kvs, KV{UserKey: []byte(uk), Value: bytes.Clone(v)})
	}
	slices.SortFunc(kvs, func(a, b KV) int { return bytes.Compare(a.UserKey, b.UserKey) })
	return kvs
}

// Logs returns the messages the operator logged so far.
func (h *Harness) Logs() []Log { return slices.Clone(h.host.logs) }

// FormatRecords renders records one per line, for test failure messages.
func FormatRecords(rs []weir.Record) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "  key=%q value=%q ts=%d tid=%d", r.Key, r.Value, r.Timestamp, r.TrackingID)
		if len(r.Headers) > 0 {
			b.WriteString(" headers=")
			weir.RangeHeaders(r.Headers, func(n, v []byte) bool {
				fmt.Fprintf(&b, "%q:%q ", n, v)
				return true
			})
		}
		b.WriteString("\n")
	}
	return b.String()
}

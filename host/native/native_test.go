package native

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
)

// fakeEnv is a minimal runtime.Env: state per (entry key, name, user key),
// timers as a set, emitted records decoded per port.
type fakeEnv struct {
	keys   [][]byte
	state  map[string][]byte
	timers map[string]bool
	out    map[uint32][]abi.Entry
	logs   []string
}

func newFakeEnv() *fakeEnv {
	return &fakeEnv{state: map[string][]byte{}, timers: map[string]bool{}, out: map[uint32][]abi.Entry{}}
}

// begin scopes the env to batch, as the runtime does before each call.
func (f *fakeEnv) begin(batch []byte) {
	f.keys = f.keys[:0]
	for r := abi.NewReader(batch); r.Next(); {
		f.keys = append(f.keys, bytes.Clone(r.Entry().Key))
	}
}

func (f *fakeEnv) id(entry uint32, name, userKey []byte) (string, uint32) {
	if int(entry) >= len(f.keys) {
		return "", uint32(abi.BadEntry)
	}
	return fmt.Sprintf("%q/%q/%q", f.keys[entry], name, userKey), 0
}

func (f *fakeEnv) StateGet(entry uint32, name, userKey []byte) ([]byte, uint32) {
	id, c := f.id(entry, name, userKey)
	if c != 0 {
		return nil, c
	}
	v, ok := f.state[id]
	if !ok {
		return nil, uint32(abi.NotFound)
	}
	return v, 0
}

func (f *fakeEnv) StatePut(entry uint32, name, userKey, value []byte) uint32 {
	id, c := f.id(entry, name, userKey)
	if c == 0 {
		f.state[id] = bytes.Clone(value)
	}
	return c
}

func (f *fakeEnv) StateDelete(entry uint32, name, userKey []byte) uint32 {
	id, c := f.id(entry, name, userKey)
	delete(f.state, id)
	return c
}

func (f *fakeEnv) StateClear(entry uint32, name []byte) uint32 { return uint32(abi.Internal) }

func (f *fakeEnv) StateScan(entry uint32, name, start []byte, fn func(userKey, value []byte) bool) uint32 {
	return uint32(abi.Internal)
}

func (f *fakeEnv) TimerSet(entry uint32, kind uint32, time int64) uint32 {
	id, c := f.id(entry, []byte(strconv.Itoa(int(kind))), []byte(strconv.FormatInt(time, 10)))
	f.timers[id] = true
	return c
}

func (f *fakeEnv) TimerDelete(entry uint32, kind uint32, time int64) uint32 {
	id, c := f.id(entry, []byte(strconv.Itoa(int(kind))), []byte(strconv.FormatInt(time, 10)))
	delete(f.timers, id)
	return c
}

func (f *fakeEnv) Emit(port uint32, batch []byte) uint32 {
	if err := abi.Validate(batch, abi.DefaultLimits, true); err != nil {
		return uint32(abi.Malformed)
	}
	for r := abi.NewReader(batch); r.Next(); {
		e := *r.Entry()
		e.Key, e.Value, e.Headers = bytes.Clone(e.Key), bytes.Clone(e.Value), bytes.Clone(e.Headers)
		f.out[port] = append(f.out[port], e)
	}
	return 0
}

func (f *fakeEnv) Log(level int32, msg []byte) { f.logs = append(f.logs, string(msg)) }

func (f *fakeEnv) Call(entry uint32, endpoint, request, key []byte) ([]byte, uint32) {
	return nil, uint32(abi.NotFound)
}

var total = weir.NewValueState("total", weir.Int64)

// sumOp keeps a per-key sum of decimal values and emits it; the value "panic"
// panics and "fail" fails with code 123.
var sumOp = weir.Operator{
	Init: func(config []byte) error {
		if string(config) == "bad" {
			return errors.New("bad config")
		}
		return nil
	},
	Process: func(ctx *weir.Context, r weir.Record) error {
		switch string(r.Value) {
		case "panic":
			panic("boom")
		case "fail":
			return weir.Errorf(123, "failing on purpose")
		}
		n, err := strconv.ParseInt(string(r.Value), 10, 64)
		if err != nil {
			return err
		}
		s, _, err := total.Get(ctx)
		if err != nil {
			return err
		}
		s += n
		if err := total.Set(ctx, s); err != nil {
			return err
		}
		ctx.Log(weir.LevelInfo, "sum "+strconv.FormatInt(s, 10))
		ctx.Emit(weir.Record{Value: strconv.AppendInt(nil, s, 10)})
		return nil
	},
}

type rec struct {
	key, value string
	ts         int64
	tid        uint64
}

func batchOf(recs ...rec) []byte {
	var w abi.Writer
	w.Reset()
	for _, r := range recs {
		w.Append(abi.Entry{Key: []byte(r.key), Value: []byte(r.value), Timestamp: r.ts, TrackingID: r.tid})
	}
	return bytes.Clone(w.Bytes())
}

func newOperator(t *testing.T, config string) runtime.Operator {
	t.Helper()
	op, err := Factory(sumOp).NewOperator(context.Background(), runtime.OperatorInfo{Name: "sum", Subtask: 2, Parallelism: 4, Keyed: true, Config: []byte(config)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	return op
}

// TestProcess runs batches through a native operator with a runtime.Env and
// checks state scoping by key, emitted records (with inherited timestamp and
// tracking id) and logs.
func TestProcess(t *testing.T) {
	op, env := newOperator(t, ""), newFakeEnv()
	for _, b := range [][]byte{
		batchOf(rec{"a", "1", 10, 1}, rec{"b", "5", 11, 2}),
		batchOf(rec{"a", "2", 12, 3}),
	} {
		env.begin(b)
		if err := op.Process(context.Background(), b, env); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, e := range env.out[0] {
		got = append(got, fmt.Sprintf("%s@%d#%d", e.Value, e.Timestamp, e.TrackingID))
	}
	if want := []string{"1@10#1", "5@11#2", "3@12#3"}; !slices.Equal(got, want) {
		t.Errorf("emitted %v, want %v", got, want)
	}
	if want := []string{"sum 1", "sum 5", "sum 3"}; !slices.Equal(env.logs, want) {
		t.Errorf("logs %v, want %v", env.logs, want)
	}
}

// TestProcessErrors checks that failures become *runtime.OperatorError with the
// operator, subtask, entry details and status code.
func TestProcessErrors(t *testing.T) {
	tests := []struct {
		name      string
		batch     []byte
		wantEntry int
		wantKey   string
		wantTS    int64
		wantTID   uint64
		wantCode  abi.Code
		wantMsg   string
	}{
		{"guest code", batchOf(rec{"a", "1", 10, 1}, rec{"bad", "fail", 20, 7}), 1, "bad", 20, 7, 123, "failing on purpose"},
		{"plain error", batchOf(rec{"x", "not a number", 30, 9}), 0, "x", 30, 9, 100, "invalid syntax"},
		{"panic", batchOf(rec{"a", "1", 1, 1}, rec{"a", "2", 2, 2}, rec{"p", "panic", 40, 11}), 2, "p", 40, 11, 0, "panic: boom"},
		{"malformed batch", []byte("not a batch"), -1, "", 0, 0, abi.Malformed, "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, env := newOperator(t, ""), newFakeEnv()
			env.begin(tt.batch)
			err := op.Process(context.Background(), tt.batch, env)
			var oe *runtime.OperatorError
			if !errors.As(err, &oe) {
				t.Fatalf("Process = %v, want a *runtime.OperatorError", err)
			}
			if oe.Operator != "sum" || oe.Subtask != 2 || oe.Entry != tt.wantEntry || string(oe.Key) != tt.wantKey ||
				oe.Code != tt.wantCode || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("got %+v (%v), want entry %d key %q code %d and a message with %q", *oe, err, tt.wantEntry, tt.wantKey, tt.wantCode, tt.wantMsg)
			}
			if tt.wantEntry >= 0 && (oe.Timestamp != tt.wantTS || oe.TrackingID != tt.wantTID) {
				t.Fatalf("timestamp %d tracking id %d, want %d %d", oe.Timestamp, oe.TrackingID, tt.wantTS, tt.wantTID)
			}
		})
	}
}

func TestInitError(t *testing.T) {
	_, err := Factory(sumOp).NewOperator(context.Background(), runtime.OperatorInfo{Name: "sum", Subtask: 1, Config: []byte("bad")})
	var oe *runtime.OperatorError
	if !errors.As(err, &oe) || oe.Operator != "sum" || oe.Subtask != 1 || !strings.Contains(err.Error(), "bad config") {
		t.Fatalf("NewOperator = %v, want an OperatorError for subtask 1 saying bad config", err)
	}
}

func TestCanceledContext(t *testing.T) {
	op, env := newOperator(t, ""), newFakeEnv()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := batchOf(rec{"a", "1", 1, 1})
	env.begin(b)
	if err := op.Process(ctx, b, env); !errors.Is(err, context.Canceled) {
		t.Fatalf("Process = %v, want context.Canceled", err)
	}
	if len(env.out) != 0 {
		t.Fatalf("a canceled call emitted %v", env.out)
	}
}

// TestSDKMirrorsABI checks that the constants the SDK mirrors (it may not
// import this module) equal the abi package's.
func TestSDKMirrorsABI(t *testing.T) {
	for c := abi.OK; c <= abi.Unavailable; c++ {
		if weir.Code(c).String() != c.String() {
			t.Errorf("code %d: SDK name %s, abi name %s", c, weir.Code(c), c)
		}
	}
	if weir.Code(abi.Unavailable+1).String() != (abi.Unavailable + 1).String() {
		t.Errorf("the SDK defines code %d, abi does not", abi.Unavailable+1)
	}
	checks := []struct {
		name      string
		sdk, want int64
	}{
		{"NotFound", int64(weir.NotFound), int64(abi.NotFound)},
		{"Internal", int64(weir.Internal), int64(abi.Internal)},
		{"Unavailable", int64(weir.Unavailable), int64(abi.Unavailable)},
		{"FirstGuestCode", int64(weir.FirstGuestCode), int64(abi.FirstGuestCode)},
		{"NoTimestamp", weir.NoTimestamp, abi.NoTimestamp},
		{"MaxKeyBytes", weir.MaxKeyBytes, abi.MaxKeyBytes},
		{"MaxValueBytes", weir.MaxValueBytes, abi.MaxValueBytes},
		{"MaxStateNameBytes", weir.MaxStateNameBytes, abi.MaxStateNameBytes},
		{"MaxPort", weir.MaxPort, abi.MaxPort},
		{"EventTime", int64(weir.EventTime), int64(abi.KindEventTimer)},
		{"ProcessingTime", int64(weir.ProcessingTime), int64(abi.KindProcessingTime)},
		{"LevelDebug", int64(weir.LevelDebug), int64(abi.LevelDebug)},
		{"LevelInfo", int64(weir.LevelInfo), int64(abi.LevelInfo)},
		{"LevelWarn", int64(weir.LevelWarn), int64(abi.LevelWarn)},
		{"LevelError", int64(weir.LevelError), int64(abi.LevelError)},
	}
	for _, c := range checks {
		if c.sdk != c.want {
			t.Errorf("%s: SDK %d, abi %d", c.name, c.sdk, c.want)
		}
	}
}

package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/weirstream/weir/abi"
)

// Operators written directly against Env (no SDK, no Wasm), for engine tests.

// splitOp emits one record per space-separated word of each value, keyed by the
// word, with value "1", or the word itself with values set.
type splitOp struct {
	w      abi.Writer
	values bool
}

func (o *splitOp) Process(ctx context.Context, b []byte, env Env) error {
	o.w.Reset()
	r := abi.NewReader(b)
	for r.Next() {
		e := r.Entry()
		for _, word := range bytes.Fields(e.Value) {
			v := []byte("1")
			if o.values {
				v = word
			}
			o.w.Append(abi.Entry{Key: word, Value: v, Timestamp: e.Timestamp, TrackingID: e.TrackingID})
		}
	}
	if code := env.Emit(0, o.w.Bytes()); code != 0 {
		return fmt.Errorf("emit: %v", abi.Code(code))
	}
	return nil
}
func (o *splitOp) Close() error { return nil }

// countOp keeps a running count per key and emits "count" with it. Records
// whose value is "poison" make it fail naming the entry, "poison-anon" without
// naming it, and "flaky" the first two times this instance sees them.
type countOp struct {
	w     abi.Writer
	tries map[uint64]int // of "flaky" records, by tracking id
}

var countName = []byte("count")

func (o *countOp) Process(ctx context.Context, b []byte, env Env) error {
	o.w.Reset()
	r := abi.NewReader(b)
	for r.Next() {
		e := r.Entry()
		switch string(e.Value) {
		case "poison":
			return &OperatorError{Entry: r.Index(), Err: fmt.Errorf("poison record")}
		case "poison-anon":
			return &OperatorError{Entry: -1, Err: fmt.Errorf("poison record")}
		case "flaky":
			if o.tries == nil {
				o.tries = map[uint64]int{}
			}
			if o.tries[e.TrackingID]++; o.tries[e.TrackingID] <= 2 {
				return &OperatorError{Entry: r.Index(), Err: fmt.Errorf("flaky record")}
			}
		}
		i := uint32(r.Index())
		var n uint64
		v, code := env.StateGet(i, countName, nil)
		switch abi.Code(code) {
		case abi.OK:
			n = binary.BigEndian.Uint64(v)
		case abi.NotFound:
		default:
			return fmt.Errorf("state get: %v", abi.Code(code))
		}
		n++
		if code := env.StatePut(i, countName, nil, binary.BigEndian.AppendUint64(nil, n)); code != 0 {
			return fmt.Errorf("state put: %v", abi.Code(code))
		}
		o.w.Append(abi.Entry{Key: e.Key, Value: strconv.AppendUint(nil, n, 10), Timestamp: e.Timestamp, TrackingID: e.TrackingID})
	}
	if code := env.Emit(0, o.w.Bytes()); code != 0 {
		return fmt.Errorf("emit: %v", abi.Code(code))
	}
	return nil
}
func (o *countOp) Close() error { return nil }

// windowOp sums the integer values per key in tumbling event-time windows of
// size ms, emitting "start-end:sum" when the watermark passes the window end.
// It keeps the sums in map state (user key = window end) and uses timers.
type windowOp struct {
	size int64
	w    abi.Writer
}

var sumsName = []byte("sums")

func (o *windowOp) Process(ctx context.Context, b []byte, env Env) error {
	o.w.Reset()
	r := abi.NewReader(b)
	for r.Next() {
		e := r.Entry()
		i := uint32(r.Index())
		switch e.Kind {
		case abi.KindRecord:
			end := e.Timestamp - e.Timestamp%o.size + o.size
			uk := binary.BigEndian.AppendUint64(nil, uint64(end))
			var sum int64
			if v, code := env.StateGet(i, sumsName, uk); code == 0 {
				sum = int64(binary.BigEndian.Uint64(v))
			} else if abi.Code(code) != abi.NotFound {
				return fmt.Errorf("state get: %v", abi.Code(code))
			}
			n, _ := strconv.ParseInt(string(bytes.Fields(e.Value)[0]), 10, 64)
			sum += n
			if code := env.StatePut(i, sumsName, uk, binary.BigEndian.AppendUint64(nil, uint64(sum))); code != 0 {
				return fmt.Errorf("state put: %v", abi.Code(code))
			}
			if code := env.TimerSet(i, uint32(abi.KindEventTimer), end-1); code != 0 {
				return fmt.Errorf("timer set: %v", abi.Code(code))
			}
		case abi.KindEventTimer:
			end := e.Timestamp + 1
			uk := binary.BigEndian.AppendUint64(nil, uint64(end))
			v, code := env.StateGet(i, sumsName, uk)
			if code != 0 {
				return fmt.Errorf("timer for window %d without a sum: %v", end, abi.Code(code))
			}
			sum := int64(binary.BigEndian.Uint64(v))
			if code := env.StateDelete(i, sumsName, uk); code != 0 {
				return fmt.Errorf("state delete: %v", abi.Code(code))
			}
			o.w.Append(abi.Entry{Key: e.Key, Value: fmt.Appendf(nil, "%d-%d:%d", end-o.size, end, sum), Timestamp: e.Timestamp})
		}
	}
	if code := env.Emit(0, o.w.Bytes()); code != 0 {
		return fmt.Errorf("emit: %v", abi.Code(code))
	}
	return nil
}
func (o *windowOp) Close() error { return nil }

func factoryOf(newOp func() Operator) OperatorFactory {
	return OperatorFactoryFunc(func(ctx context.Context, info OperatorInfo) (Operator, error) { return newOp(), nil })
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

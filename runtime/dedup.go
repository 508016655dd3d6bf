package runtime

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/weirstream/weir/abi"
)

// Dedup is the built-in operator that drops records whose message id it has
// seen within a TTL. It is keyed: its state — one entry per (record key,
// message id) holding the time the id expires — is in the subtask's keyed
// state, so it is checkpointed, moves with its key group on rescale and is
// bounded in memory by the state cache. Expired ids are deleted by timers (of
// the same kind as the TTL's time), one per key and expiry bucket.
//
// Duplicates are recognised among the records of one key: with IDFrom "key"
// that is every record with the same key; for an id inside the value, key
// the stream by that id (or by something duplicates share) first.

// DedupConfig configures a Dedup operator.
type DedupConfig struct {
	// IDFrom says where a record's message id is: "key" (the default),
	// "value" (the whole value), or "json:FIELD" (a top-level field of a JSON
	// object value; a record without it fails, under the operator's failure
	// policy).
	IDFrom string
	// TTL is how long an id is remembered (required, > 0).
	TTL time.Duration
	// EventTime measures the TTL in event time (the records' timestamps; ids
	// expire as the watermark passes) instead of processing time.
	EventTime bool
}

// dedupStateName is the state the operator keeps its ids in.
var dedupStateName = []byte("dedup")

// dedupBuckets is how many expiry buckets a TTL is cut into: an id expires
// up to TTL/dedupBuckets after its TTL (never before), which bounds the
// timers of a key to about dedupBuckets per TTL.
const dedupBuckets = 64

// Check reports what is wrong with c.
func (c DedupConfig) Check() error {
	if c.TTL <= 0 {
		return errors.New("ttl: want a duration > 0")
	}
	switch {
	case c.IDFrom == "", c.IDFrom == "key", c.IDFrom == "value":
	case strings.HasPrefix(c.IDFrom, "json:") && len(c.IDFrom) > len("json:"):
	default:
		return fmt.Errorf("idFrom: %q is not key, value or json:FIELD", c.IDFrom)
	}
	return nil
}

// DedupFactory makes Dedup operators; it is built in, so a server runs it
// without a module.
type DedupFactory struct{ Config DedupConfig }

// NewDedup returns the factory of Dedup operators with config c (see Check).
func NewDedup(c DedupConfig) *DedupFactory { return &DedupFactory{Config: c} }

// NewOperator makes one subtask's instance.
func (f *DedupFactory) NewOperator(ctx context.Context, info OperatorInfo) (Operator, error) {
	c := f.Config
	if err := c.Check(); err != nil {
		return nil, err
	}
	if !info.Keyed {
		return nil, fmt.Errorf("dedup operator %q needs a keyBy input", info.Name)
	}
	bucket := max(c.TTL.Milliseconds()/dedupBuckets, 1)
	return &dedupOp{cfg: c, ttl: c.TTL.Milliseconds(), bucket: bucket, field: strings.TrimPrefix(c.IDFrom, "json:"), idIsKey: c.IDFrom == "" || c.IDFrom == "key"}, nil
}

type dedupOp struct {
	cfg     DedupConfig
	ttl     int64 // ms
	bucket  int64 // ms
	field   string
	idIsKey bool // IDFrom is the record key: a key has at most one id
	w       abi.Writer
	exp     []byte
	expired [][]byte
}

func (o *dedupOp) Close() error { return nil }

// id returns the message id of e.
func (o *dedupOp) id(e *abi.Entry) ([]byte, error) {
	switch o.cfg.IDFrom {
	case "", "key":
		return e.Key, nil
	case "value":
		return e.Value, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(e.Value, &obj); err != nil {
		return nil, fmt.Errorf("dedup: the value is not a JSON object: %v", err)
	}
	raw, ok := obj[o.field]
	if !ok {
		return nil, fmt.Errorf("dedup: the value has no field %q", o.field)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []byte(s), nil // a string id: its text, so that "7" and 7 differ
	}
	return raw, nil
}

func (o *dedupOp) Process(ctx context.Context, b []byte, env Env) error {
	o.w.Reset()
	now := abi.ProcessingTime(b)
	kind := abi.KindProcessingTime
	if o.cfg.EventTime {
		kind = abi.KindEventTimer
	}
	// With the id in the key, a key has at most one id, and a key without an
	// id entry has no timer at the new id's bucket: its old entry's timers
	// fired before an expiry deleted it, but for the next bucket's when it
	// expired exactly on a bucket's end, which the new id shares only if time
	// went back a TTL (a late record in event time, a clock behind after a
	// restore). So a new id's timer is added without TimerSet's look-up (a
	// backend read that misses); adding an existing one is harmless anyway
	// (timerService.add). State and timers of a key are in one key group, so
	// checkpoints, restores and rescales keep them together.
	var add timerAdder
	if o.idIsKey {
		add, _ = env.(timerAdder)
	}
	r := abi.NewReader(b)
	for r.Next() {
		e := r.Entry()
		i := uint32(r.Index())
		if e.Kind != abi.KindRecord {
			if err := o.expire(env, i, e.Timestamp); err != nil {
				return &OperatorError{Entry: r.Index(), Err: err}
			}
			continue
		}
		id, err := o.id(e)
		if err != nil {
			return &OperatorError{Entry: r.Index(), Err: err}
		}
		t := now
		if o.cfg.EventTime {
			if e.Timestamp == abi.NoTimestamp {
				return &OperatorError{Entry: r.Index(), Err: errors.New("dedup: the record has no timestamp, and the TTL is in event time")}
			}
			t = e.Timestamp
		}
		v, code := env.StateGet(i, dedupStateName, id)
		switch abi.Code(code) {
		case abi.OK:
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > t {
				continue // seen within the TTL: a duplicate
			}
		case abi.NotFound:
		default:
			return fmt.Errorf("dedup: state get: %v", abi.Code(code))
		}
		exp := t + o.ttl
		o.exp = binary.BigEndian.AppendUint64(o.exp[:0], uint64(exp))
		if code := env.StatePut(i, dedupStateName, id, o.exp); code != 0 {
			return fmt.Errorf("dedup: state put: %v", abi.Code(code))
		}
		// The timer fires at the end of the id's expiry bucket.
		at := (exp/o.bucket + 1) * o.bucket
		var tc uint32
		if add != nil && abi.Code(code) == abi.NotFound {
			tc = add.timerAdd(i, uint32(kind), at)
		} else {
			tc = env.TimerSet(i, uint32(kind), at)
		}
		if tc != 0 {
			return fmt.Errorf("dedup: timer set: %v", abi.Code(tc))
		}
		o.w.AppendRaw(r.Raw())
	}
	if r.Err() != nil {
		return r.Err()
	}
	if o.w.Count() > 0 {
		if code := env.Emit(0, o.w.Bytes()); code != 0 {
			return fmt.Errorf("dedup: emit: %v", abi.Code(code))
		}
	}
	return nil
}

// expire deletes the ids of entry i's key that expired by time t.
func (o *dedupOp) expire(env Env, i uint32, t int64) error {
	o.expired = o.expired[:0]
	code := env.StateScan(i, dedupStateName, nil, func(id, v []byte) bool {
		if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) <= t {
			o.expired = append(o.expired, append([]byte(nil), id...))
		}
		return true
	})
	if code != 0 {
		return fmt.Errorf("dedup: state scan: %v", abi.Code(code))
	}
	for _, id := range o.expired {
		if code := env.StateDelete(i, dedupStateName, id); code != 0 {
			return fmt.Errorf("dedup: state delete: %v", abi.Code(code))
		}
	}
	return nil
}

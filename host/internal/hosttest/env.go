package hosttest

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Env is a map-backed runtime.Env. State is keyed by (entry key, state name,
// user key) and timers by (entry key, kind, time), where the entry key is
// the key of entry i of Batch, as the runtime scopes them; emitted batches
// are copied and collected in order. Its fields are for tests to set up and
// inspect; it is not safe for concurrent use.
type Env struct {
	// Batch is the batch being processed, whose entries' keys scope state
	// and timers. The test sets it before it hands the batch to an operator.
	Batch  []byte
	State  map[StateKey][]byte
	Timers map[TimerKey]bool // set timers; deleted ones are removed
	Emits  []Emitted
	Logs   []string // messages of Log, in order
	// Fail, if not 0, is the status of every state and timer call, which
	// then changes nothing; and of Emit too if FailEmits is set.
	Fail      uint32
	FailEmits bool
	// Answer answers the call host function (nil: every endpoint is unknown,
	// NOT_FOUND). Its response is encoded as abi.AppendCallResponse does.
	Answer func(entry uint32, endpoint, request, key []byte) (response []byte, code uint32)
}

// StateKey names one state value: the key of the entry it belongs to, the
// state's name and the user key within it.
type StateKey struct{ Key, Name, UserKey string }

// TimerKey names one timer: the key of the entry that set it, its kind
// (abi.KindEventTimer or abi.KindProcessingTimer) and its time.
type TimerKey struct {
	Key  string
	Kind uint32
	Time int64
}

// Emitted is one batch passed to Emit: its output port and a copy of it.
type Emitted struct {
	Port  uint32
	Batch []byte
}

// NewEnv returns an empty Env.
func NewEnv() *Env {
	return &Env{State: map[StateKey][]byte{}, Timers: map[TimerKey]bool{}}
}

var _ runtime.Env = (*Env)(nil)

// key returns the key of entry of Batch. An index out of range is a bug in
// the operator under test, so it panics.
func (e *Env) key(entry uint32) string {
	en, ok := abi.EntryAt(e.Batch, int(entry))
	if !ok {
		panic(fmt.Sprintf("hosttest.Env: the operator passed entry index %d, which the batch does not have", entry))
	}
	return string(en.Key)
}

// StateGet returns the value of (entry's key, name, userKey), or NOT_FOUND.
func (e *Env) StateGet(entry uint32, name, userKey []byte) ([]byte, uint32) {
	if e.Fail != 0 {
		return nil, e.Fail
	}
	v, ok := e.State[StateKey{e.key(entry), string(name), string(userKey)}]
	if !ok {
		return nil, uint32(abi.NotFound)
	}
	return v, 0
}

// StatePut stores a copy of value under (entry's key, name, userKey).
func (e *Env) StatePut(entry uint32, name, userKey, value []byte) uint32 {
	if e.Fail != 0 {
		return e.Fail
	}
	e.State[StateKey{e.key(entry), string(name), string(userKey)}] = bytes.Clone(value)
	return 0
}

// StateDelete removes (entry's key, name, userKey).
func (e *Env) StateDelete(entry uint32, name, userKey []byte) uint32 {
	if e.Fail != 0 {
		return e.Fail
	}
	delete(e.State, StateKey{e.key(entry), string(name), string(userKey)})
	return 0
}

// StateClear removes every user key of state name of entry's key.
func (e *Env) StateClear(entry uint32, name []byte) uint32 {
	if e.Fail != 0 {
		return e.Fail
	}
	k := e.key(entry)
	for sk := range e.State {
		if sk.Key == k && sk.Name == string(name) {
			delete(e.State, sk)
		}
	}
	return 0
}

// StateScan calls fn with the user keys of state name of entry's key from
// start on, in ascending order, and their values, until fn returns false.
func (e *Env) StateScan(entry uint32, name, start []byte, fn func(userKey, value []byte) bool) uint32 {
	if e.Fail != 0 {
		return e.Fail
	}
	k := e.key(entry)
	var uks []string
	for sk := range e.State {
		if sk.Key == k && sk.Name == string(name) && sk.UserKey >= string(start) {
			uks = append(uks, sk.UserKey)
		}
	}
	slices.Sort(uks)
	for _, uk := range uks {
		if !fn([]byte(uk), e.State[StateKey{k, string(name), uk}]) {
			break
		}
	}
	return 0
}

// TimerSet records the timer (entry's key, kind, time).
func (e *Env) TimerSet(entry uint32, kind uint32, time int64) uint32 {
	if e.Fail != 0 {
		return e.Fail
	}
	e.Timers[TimerKey{e.key(entry), kind, time}] = true
	return 0
}

// TimerDelete removes the timer (entry's key, kind, time).
func (e *Env) TimerDelete(entry uint32, kind uint32, time int64) uint32 {
	if e.Fail != 0 {
		return e.Fail
	}
	delete(e.Timers, TimerKey{e.key(entry), kind, time})
	return 0
}

// Emit appends a copy of batch, sent to port, to Emits.
func (e *Env) Emit(port uint32, batch []byte) uint32 {
	if e.FailEmits && e.Fail != 0 {
		return e.Fail
	}
	e.Emits = append(e.Emits, Emitted{port, bytes.Clone(batch)})
	return 0
}

// Call returns what Answer does, and NOT_FOUND when Answer is nil.
func (e *Env) Call(entry uint32, endpoint, request, key []byte) ([]byte, uint32) {
	if e.Answer == nil {
		return nil, uint32(abi.NotFound)
	}
	e.key(entry) // panics on an entry out of range, as state calls do
	return e.Answer(entry, endpoint, request, key)
}

// Log appends msg to Logs; the level is dropped.
func (e *Env) Log(level int32, msg []byte) { e.Logs = append(e.Logs, string(msg)) }

package weirtest

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"slices"

	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/internal/wire"
)

// stateID names the state of one state name and one record key; its user keys
// are the keys of the inner map.
type stateID struct{ name, key string }

// timerID is one timer: at most one per kind, key and time (ABI §5).
type timerID struct {
	kind weir.TimerKind
	time int64
	key  string
}

// undoOp restores one state value or timer as it was before the batch.
type undoOp struct {
	timer   bool
	tid     timerID
	sid     stateID
	userKey string
	prev    []byte
	existed bool
}

type portRecord struct {
	port int
	rec  weir.Record
}

// memHost is an in-memory weir.NativeHost scoped like the runtime's: state per
// (state name, record key, user key), user keys ordered for scans, timers per
// (kind, key, time). Within a batch it journals every change, so that a failed
// batch leaves no trace, as ABI §8 says of the host.
type memHost struct {
	keyed  bool
	keys   [][]byte // entry keys of the current batch; nil outside one
	state  map[stateID]map[string][]byte
	timers map[timerID]struct{}

	undo       []undoOp
	emitted    []portRecord // emitted during the current batch
	emitBytes  int
	logs       []Log
	logHandler func(Log)
	endpoints  map[string]Endpoint
}

// callState is the name under which memHost journals calls: a state name no
// operator can use (names are 1..255 bytes, and this one is 256).
var callState = string(make([]byte, 256))

func newMemHost(keyed bool) *memHost {
	return &memHost{keyed: keyed, state: map[stateID]map[string][]byte{}, timers: map[timerID]struct{}{}}
}

// begin starts a batch whose entries have keys.
func (m *memHost) begin(keys [][]byte) {
	m.keys, m.undo, m.emitted, m.emitBytes = keys, m.undo[:0], nil, 0
}

// end finishes the batch: on failure it rolls back its state and timer
// changes. It returns the records emitted by a successful batch.
func (m *memHost) end(ok bool) []portRecord {
	m.keys = nil
	if !ok {
		for i := len(m.undo) - 1; i >= 0; i-- {
			u := m.undo[i]
			switch {
			case u.timer && u.existed:
				m.timers[u.tid] = struct{}{}
			case u.timer:
				delete(m.timers, u.tid)
			case u.existed:
				m.values(u.sid, true)[u.userKey] = u.prev
			default:
				delete(m.values(u.sid, true), u.userKey)
			}
		}
		m.emitted = nil
	}
	m.undo = m.undo[:0]
	out := m.emitted
	m.emitted = nil
	return out
}

func (m *memHost) values(id stateID, create bool) map[string][]byte {
	v := m.state[id]
	if v == nil && create {
		v = map[string][]byte{}
		m.state[id] = v
	}
	return v
}

// scope checks a state or timer call and returns the entry's key.
func (m *memHost) scope(entry uint32) (key []byte, code weir.Code) {
	switch {
	case m.keys == nil || !m.keyed:
		return nil, weir.NotAllowed
	case int(entry) >= len(m.keys):
		return nil, weir.BadEntry
	}
	return m.keys[entry], weir.OK
}

func (m *memHost) stateScope(entry uint32, name, userKey []byte) (stateID, weir.Code) {
	key, c := m.scope(entry)
	switch {
	case c != weir.OK:
		return stateID{}, c
	case len(name) == 0 || len(name) > weir.MaxStateNameBytes:
		return stateID{}, weir.BadArgument
	case len(userKey) > weir.MaxKeyBytes:
		return stateID{}, weir.LimitExceeded
	}
	return stateID{name: string(name), key: string(key)}, weir.OK
}

func (m *memHost) journal(id stateID, userKey string) {
	prev, existed := m.values(id, false)[userKey]
	m.undo = append(m.undo, undoOp{sid: id, userKey: userKey, prev: prev, existed: existed})
}

func (m *memHost) StateGet(entry uint32, name, userKey []byte) ([]byte, uint32) {
	id, c := m.stateScope(entry, name, userKey)
	if c != weir.OK {
		return nil, uint32(c)
	}
	v, ok := m.values(id, false)[string(userKey)]
	if !ok {
		return nil, uint32(weir.NotFound)
	}
	return v, 0
}

func (m *memHost) StatePut(entry uint32, name, userKey, value []byte) uint32 {
	id, c := m.stateScope(entry, name, userKey)
	if c != weir.OK {
		return uint32(c)
	}
	if len(value) > weir.MaxValueBytes {
		return uint32(weir.LimitExceeded)
	}
	m.journal(id, string(userKey))
	m.values(id, true)[string(userKey)] = bytes.Clone(value)
	return 0
}

func (m *memHost) StateDelete(entry uint32, name, userKey []byte) uint32 {
	id, c := m.stateScope(entry, name, userKey)
	if c != weir.OK {
		return uint32(c)
	}
	if vs := m.values(id, false); vs != nil {
		if _, ok := vs[string(userKey)]; ok {
			m.journal(id, string(userKey))
			delete(vs, string(userKey))
		}
	}
	return 0
}

func (m *memHost) StateClear(entry uint32, name []byte) uint32 {
	id, c := m.stateScope(entry, name, nil)
	if c != weir.OK {
		return uint32(c)
	}
	for uk := range m.values(id, false) {
		m.journal(id, uk)
	}
	delete(m.state, id)
	return 0
}

func (m *memHost) StateScan(entry uint32, name, start []byte, fn func(userKey, value []byte) bool) uint32 {
	id, c := m.stateScope(entry, name, start)
	if c != weir.OK {
		return uint32(c)
	}
	vs := m.values(id, false)
	var keys []string
	for uk := range vs {
		if uk >= string(start) {
			keys = append(keys, uk)
		}
	}
	slices.Sort(keys)
	for _, uk := range keys {
		if !fn([]byte(uk), vs[uk]) {
			break
		}
	}
	return 0
}

func (m *memHost) timer(entry, kind uint32, time int64, set bool) uint32 {
	key, c := m.scope(entry)
	if c != weir.OK {
		return uint32(c)
	}
	if kind != uint32(weir.EventTime) && kind != uint32(weir.ProcessingTime) {
		return uint32(weir.BadArgument)
	}
	id := timerID{kind: weir.TimerKind(kind), time: time, key: string(key)}
	_, existed := m.timers[id]
	if existed == set {
		return 0
	}
	m.undo = append(m.undo, undoOp{timer: true, tid: id, existed: existed})
	if set {
		m.timers[id] = struct{}{}
	} else {
		delete(m.timers, id)
	}
	return 0
}

func (m *memHost) TimerSet(entry, kind uint32, time int64) uint32 {
	return m.timer(entry, kind, time, true)
}

func (m *memHost) TimerDelete(entry, kind uint32, time int64) uint32 {
	return m.timer(entry, kind, time, false)
}

// removeDue removes, journaled, the timers of kind at or before time and
// returns them ordered by time, then key.
func (m *memHost) removeDue(kind weir.TimerKind, time int64) []timerID {
	var due []timerID
	for id := range m.timers {
		if id.kind == kind && id.time <= time {
			due = append(due, id)
		}
	}
	slices.SortFunc(due, compareTimers)
	for _, id := range due {
		m.undo = append(m.undo, undoOp{timer: true, tid: id, existed: true})
		delete(m.timers, id)
	}
	return due
}

func compareTimers(a, b timerID) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.time, b.time), cmp.Compare(a.key, b.key))
}

func (m *memHost) Emit(port uint32, batch []byte) uint32 {
	if m.keys == nil {
		return uint32(weir.NotAllowed)
	}
	if port > weir.MaxPort {
		return uint32(weir.BadArgument)
	}
	if m.emitBytes += len(batch); m.emitBytes > wire.MaxEmitBytes {
		return uint32(weir.LimitExceeded)
	}
	if err := wire.Validate(batch, true); err != nil {
		return uint32(weir.Malformed)
	}
	var r wire.Reader
	r.Reset(batch)
	for r.Next() {
		e := r.Entry()
		m.emitted = append(m.emitted, portRecord{port: int(port), rec: weir.Record{
			Key: bytes.Clone(e.Key), Value: bytes.Clone(e.Value), Headers: bytes.Clone(e.Headers),
			Timestamp: e.Timestamp, TrackingID: e.TrackingID,
		}})
	}
	return 0
}

func (m *memHost) Log(level int32, msg []byte) {
	l := Log{Level: weir.LogLevel(level), Msg: string(msg)}
	m.logs = append(m.logs, l)
	if m.logHandler != nil {
		m.logHandler(l)
	}
}

// Call journals responses under (record key, idempotency key) as the runtime
// does (ABI §5.3), undone with the rest of a failed batch.
func (m *memHost) Call(entry uint32, endpoint, request, key []byte) ([]byte, uint32) {
	rk, c := m.scope(entry)
	switch {
	case c != weir.OK:
		return nil, uint32(c)
	case len(endpoint) == 0 || len(endpoint) > weir.MaxStateNameBytes || len(key) == 0:
		return nil, uint32(weir.BadArgument)
	case len(key) > weir.MaxKeyBytes || len(request) > weir.MaxValueBytes:
		return nil, uint32(weir.LimitExceeded)
	}
	id := stateID{name: callState, key: string(rk)}
	if v, ok := m.values(id, false)[string(key)]; ok {
		req, resp, _ := bytes.Cut(v, []byte{0})
		if string(req) != hexString(request) {
			return nil, uint32(weir.BadArgument)
		}
		return resp, 0
	}
	ep := m.endpoints[string(endpoint)]
	if ep == nil {
		return nil, uint32(weir.NotFound)
	}
	r, err := ep(bytes.Clone(request), bytes.Clone(key))
	if err != nil {
		return nil, uint32(weir.Unavailable)
	}
	v := append([]byte(hexString(request)), 0)
	v = binary.LittleEndian.AppendUint32(v, uint32(r.Status))
	v = append(v, r.Body...)
	m.journal(id, string(key))
	m.values(id, true)[string(key)] = v
	return v[len(v)-len(r.Body)-4:], 0
}

func hexString(b []byte) string { return hex.EncodeToString(b) }

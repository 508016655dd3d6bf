package runtime

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/weirstream/weir/abi"
)

// opEnv is the runtime's Env: it scopes state and timers to the key of a batch
// entry and routes emitted records to the subtask's outputs. One lives in each
// operator subtask and is reused for every call.
type opEnv struct {
	p        *operatorProc
	ctx      context.Context // of the call in progress, for external calls
	active   bool
	keys     [][]byte // key of each entry of the current batch (keyed operators only)
	kgs      []int32  // key group of each entry, -1 until computed
	key      []byte   // scratch: the state key being built
	rangeEnd []byte   // scratch: the end of a scan or clear range
	failure  error    // a host-side failure during the call; fails the call
	emitted  int      // records emitted in the current call
	// callNote is why the first external call of the current call failed
	// (calls.go); it explains the guest's failure, if one follows.
	callNote error
	callBuf  []byte // scratch: a journal value being written
	// hold keeps emitted batches in held instead of sending them (a
	// transactional call of the failure policy, failure.go).
	hold    bool
	held    []heldEmit
	heldBuf []byte
	// shadow is set in the Env of a shadow instance (shadow.go): state goes
	// to its overlay, emits to its capture, timers nowhere.
	shadow *shadowSub
}

type heldEmit struct{ port, from, to int }

// dropHeld forgets the held emits of a failed call.
func (e *opEnv) dropHeld() { e.held, e.heldBuf = e.held[:0], e.heldBuf[:0] }

// releaseHeld sends the held emits of a call that succeeded.
func (e *opEnv) releaseHeld() error {
	defer e.dropHeld()
	for _, h := range e.held {
		if err := e.p.send(h.port, e.heldBuf[h.from:h.to]); err != nil {
			return fmt.Errorf("operator %s: emit: %w", e.p.t.id, err)
		}
	}
	return nil
}

var _ Env = (*opEnv)(nil)

func (e *opEnv) begin(ctx context.Context, b []byte) {
	e.ctx, e.callNote = ctx, nil
	e.active, e.failure, e.emitted = true, nil, 0
	e.keys, e.kgs = e.keys[:0], e.kgs[:0]
	if !e.p.keyed {
		return
	}
	r := abi.NewReader(b)
	for r.Next() {
		e.keys = append(e.keys, r.Entry().Key)
		e.kgs = append(e.kgs, -1)
	}
}

func (e *opEnv) end() error {
	e.active, e.ctx = false, nil
	clear(e.keys) // do not keep the batch reachable
	return e.failure
}

// fail records a host-side failure; the call fails even if the guest ignores the code.
func (e *opEnv) fail(op string, err error) uint32 {
	if e.failure == nil {
		e.failure = fmt.Errorf("%s: %w", op, err)
	}
	return uint32(abi.Internal)
}

// scope checks entry and returns its key group and key.
func (e *opEnv) scope(entry uint32) (int, []byte, uint32) {
	if !e.active || !e.p.keyed {
		return 0, nil, uint32(abi.NotAllowed)
	}
	if int(entry) >= len(e.keys) {
		return 0, nil, uint32(abi.BadEntry)
	}
	kg := e.kgs[entry]
	if kg < 0 {
		kg = int32(abi.KeyGroup(e.keys[entry], e.p.t.at.job.MaxParallelism))
		e.kgs[entry] = kg
	}
	return int(kg), e.keys[entry], 0
}

// state is what the call reads and writes.
func (e *opEnv) state() StateBackend {
	if e.shadow != nil {
		return e.shadow.state
	}
	return e.p.state
}

func validName(name []byte) bool { return len(name) >= 1 && len(name) <= abi.MaxStateNameBytes }

func (e *opEnv) stateKey(entry uint32, name, userKey []byte) uint32 {
	kg, key, code := e.scope(entry)
	if code != 0 {
		return code
	}
	if !validName(name) {
		return uint32(abi.BadArgument)
	}
	e.key = appendStateKey(e.key[:0], kg, name, key, userKey)
	return 0
}

func (e *opEnv) StateGet(entry uint32, name, userKey []byte) ([]byte, uint32) {
	if code := e.stateKey(entry, name, userKey); code != 0 {
		return nil, code
	}
	v, ok, err := e.state().Get(e.key)
	if err != nil {
		return nil, e.fail("state get", err)
	}
	if !ok {
		return nil, uint32(abi.NotFound)
	}
	return v, 0
}

func (e *opEnv) StatePut(entry uint32, name, userKey, value []byte) uint32 {
	if code := e.stateKey(entry, name, userKey); code != 0 {
		return code
	}
	if err := e.state().Set(e.key, value); err != nil {
		return e.fail("state put", err)
	}
	return 0
}

func (e *opEnv) StateDelete(entry uint32, name, userKey []byte) uint32 {
	if code := e.stateKey(entry, name, userKey); code != 0 {
		return code
	}
	if err := e.state().Delete(e.key); err != nil {
		return e.fail("state delete", err)
	}
	return 0
}

// prefixEnd sets e.rangeEnd to the first key after every key that starts with e.key.
func (e *opEnv) prefixEnd() {
	e.rangeEnd = append(e.rangeEnd[:0], e.key...)
	for i := len(e.rangeEnd) - 1; i >= 0; i-- {
		if e.rangeEnd[i] != 0xff {
			e.rangeEnd[i]++
			e.rangeEnd = e.rangeEnd[:i+1]
			return
		}
	}
	// INVARIANT: a state key starts with a 2-byte key group < 2^15, so it is never all 0xff.
	panic("state key prefix is all 0xff")
}

func (e *opEnv) StateClear(entry uint32, name []byte) uint32 {
	if code := e.stateKey(entry, name, nil); code != 0 {
		return code
	}
	e.prefixEnd()
	if err := e.state().DeleteRange(e.key, e.rangeEnd); err != nil {
		return e.fail("state clear", err)
	}
	return 0
}

func (e *opEnv) StateScan(entry uint32, name, start []byte, fn func(userKey, value []byte) bool) uint32 {
	if code := e.stateKey(entry, name, nil); code != 0 {
		return code
	}
	prefixLen := len(e.key)
	e.prefixEnd()
	e.key = append(e.key, start...)
	err := e.state().Scan(e.key, e.rangeEnd, func(k, v []byte) bool { return fn(k[prefixLen:], v) })
	if err != nil {
		return e.fail("state scan", err)
	}
	return 0
}

func (e *opEnv) timer(entry uint32, kind uint32) (int, []byte, uint32) {
	kg, key, code := e.scope(entry)
	if code != 0 {
		return 0, nil, code
	}
	if abi.Kind(kind) != abi.KindEventTimer && abi.Kind(kind) != abi.KindProcessingTime {
		return 0, nil, uint32(abi.BadArgument)
	}
	return kg, key, 0
}

func (e *opEnv) TimerSet(entry uint32, kind uint32, time int64) uint32 {
	return e.timerSet(entry, kind, time, false)
}

// timerAdd is TimerSet for a timer the caller believes is not registered: it
// skips the look-up TimerSet makes first (timerService.add). Built-in operators
// reach it through timerAdder; it is not part of Env.
func (e *opEnv) timerAdd(entry uint32, kind uint32, time int64) uint32 {
	return e.timerSet(entry, kind, time, true)
}

func (e *opEnv) timerSet(entry uint32, kind uint32, time int64, add bool) uint32 {
	kg, key, code := e.timer(entry, kind)
	if code != 0 || e.shadow != nil {
		return code // NB: a shadow's timers are forgotten (shadow.go)
	}
	set := e.p.timers.set
	if add {
		set = e.p.timers.add
	}
	if err := set(kg, abi.Kind(kind), time, key); err != nil {
		return e.fail("timer set", err)
	}
	return 0
}

// timerAdder is the Env of a built-in operator that can register a timer
// without the look-up (opEnv.timerAdd).
type timerAdder interface {
	timerAdd(entry uint32, kind uint32, time int64) uint32
}

func (e *opEnv) TimerDelete(entry uint32, kind uint32, time int64) uint32 {
	kg, key, code := e.timer(entry, kind)
	if code != 0 || e.shadow != nil {
		return code
	}
	if err := e.p.timers.remove(kg, abi.Kind(kind), time, key); err != nil {
		return e.fail("timer delete", err)
	}
	return 0
}

func (e *opEnv) Emit(port uint32, batch []byte) uint32 {
	if !e.active {
		return uint32(abi.NotAllowed)
	}
	if port > abi.MaxPort {
		return uint32(abi.BadArgument)
	}
	if e.shadow != nil {
		e.shadow.out.add(int(port), batch)
	} else if e.hold {
		// NB: batch may alias guest memory; keep a copy (as outs.emit does).
		from := len(e.heldBuf)
		e.heldBuf = append(e.heldBuf, batch...)
		e.held = append(e.held, heldEmit{port: int(port), from: from, to: len(e.heldBuf)})
	} else if err := e.p.send(int(port), batch); err != nil {
		return e.fail("emit", err)
	}
	e.emitted += abi.Count(batch)
	return 0
}

func (e *opEnv) Log(level int32, msg []byte) {
	if e.shadow != nil {
		e.p.t.log.Log(context.Background(), slog.Level(level), string(msg), "shadow", e.shadow.run.module)
		return
	}
	e.p.t.log.Log(context.Background(), slog.Level(level), string(msg))
}

// send hands an emitted batch of the live instance to the outputs, and to the
// shadow's comparison while one runs.
func (p *operatorProc) send(port int, b []byte) error {
	if p.sh != nil && p.sh.capturing {
		p.sh.live.add(port, b)
	}
	return p.t.outs.emit(port, b)
}

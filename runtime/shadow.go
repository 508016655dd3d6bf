package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirstream/weir/abi"
)

// Shadow modules.
//
// A shadow runs a second module version beside an operator's live one, on
// the same input batches, to show what a swap would change before it is made.
// Each operator subtask runs the shadow's instance on a batch first and the
// live instance second, then compares what the two emitted, per input record:
// the records an instance emits carry the tracking id of the input record
// they derive from (ABI.md §4.2), so the outputs of each input record can be
// told apart however the two modules batch their emits.
//
// The shadow never touches what the job commits:
//
//   - its emitted records are only compared, never sent downstream;
//   - its state is a copy-on-read overlay of the live state (shadowState): it
//     reads its own namespace first and falls back to the live state, and
//     writes only its own namespace, a state backend of its own that is never
//     checkpointed. A restart of the job restores the live state and starts
//     the shadow again from it, with an empty namespace;
//   - its timers are not kept (TimerSet is accepted and forgotten), so output
//     that timers would emit is not compared;
//   - a guest failure of the shadow (trap, time-out, error status) counts the
//     batch's records as failed, empties the shadow's namespace (which then
//     reads through to the live state again: resyncShadow) and the live path
//     goes on; after
//     shadowMaxFailedBatches failed batches in a row a subtask stops running
//     the shadow (Suspended), so a looping shadow costs the live path at most
//     that many shadowCallTimeouts.
//
// The shadow runs first because it reads the live state: run second, it
// would see the live instance's writes for the very batch it processes.

// ShadowRequest asks a running job to run a second module beside the live
// module of one operator.
type ShadowRequest struct {
	Operator string
	Module   string          // the shadow module's id, for the status
	Factory  OperatorFactory // makes the shadow's instances
}

// ShadowStatus is what a shadow has compared so far. Counts are of input
// records: a record that was processed again after a restart of the job is
// compared again and counted again.
type ShadowStatus struct {
	Operator      string
	Module        string
	StartedUnixMs int64
	// FromCheckpoint is the barrier after which the shadow runs: it compares
	// the records after that barrier (of the current attempt's: a restart
	// starts the shadow again from the restored checkpoint).
	FromCheckpoint int64
	Records        int64 // input records compared (or failed)
	Matched        int64 // records whose live and shadow outputs are byte-identical
	Mismatched     int64 // records whose outputs differ (see ShadowDiff)
	Failed         int64 // records of batches the shadow failed on
	// Suspended counts the subtasks that stopped running the shadow after
	// shadowMaxFailedBatches failures in a row, or because it did not start.
	Suspended int
	LastError string
	Diffs     []ShadowDiff // the newest MaxShadowDiffs differences, oldest first
}

// ShadowDiff is one input record on which the live and shadow outputs differ.
type ShadowDiff struct {
	Subtask    int
	TrackingID uint64
	Position   string // where the input record came from
	Key, Input []byte // the input record's key and value (nil for output that derives from no input record of its batch)
	Live       []ShadowRecord
	Shadow     []ShadowRecord
	Error      string // the shadow's failure, when it failed on the batch
	TimeUnixMs int64
}

// ShadowRecord is one emitted record of a ShadowDiff.
type ShadowRecord struct {
	Port       int
	Key, Value []byte
}

// Limits of shadows.
const (
	// MaxShadowDiffs is how many differences a shadow keeps, the newest.
	MaxShadowDiffs = 100
	// shadowMaxFailedBatches is how many batches in a row the shadow may fail
	// on in a subtask before the subtask stops running it.
	shadowMaxFailedBatches = 3
	// shadowCallTimeout bounds one call into the shadow (the live call has
	// the operator's own limit): a looping shadow holds the live path back at
	// most this long per batch.
	shadowCallTimeout = time.Second
)

// ErrNoShadow is returned for an operator that runs no shadow.
var ErrNoShadow = errors.New("the operator runs no shadow")

// shadowSet holds the shadow of each operator of an Execution: what an
// attempt that starts runs. It outlives attempts, so a restarted attempt runs
// the shadow too (from its restored checkpoint on).
type shadowSet struct {
	slots map[string]*atomic.Pointer[shadowRun] // read-only after newShadowSet
}

func newShadowSet(job *Job) *shadowSet {
	s := &shadowSet{slots: map[string]*atomic.Pointer[shadowRun]{}}
	for _, n := range job.Operators {
		s.slots[n.Name] = new(atomic.Pointer[shadowRun])
	}
	return s
}

// shadowRun is one started shadow; its subtasks add to its counts.
type shadowRun struct {
	module  string
	factory OperatorFactory

	mu    sync.Mutex
	st    ShadowStatus // Diffs unused: see diffs
	diffs []ShadowDiff // ring of MaxShadowDiffs
	next  int          // where the next diff goes in the ring
}

// add counts one batch of subtask.
func (r *shadowRun) add(records, matched, mismatched, failed int64, diffs []ShadowDiff) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Records += records
	r.st.Matched += matched
	r.st.Mismatched += mismatched
	r.st.Failed += failed
	for _, d := range diffs {
		if len(r.diffs) < MaxShadowDiffs {
			r.diffs = append(r.diffs, d)
		} else {
			r.diffs[r.next] = d
		}
		r.next = (r.next + 1) % MaxShadowDiffs
	}
}

func (r *shadowRun) suspend(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Suspended++
	r.st.LastError = err.Error()
}

func (r *shadowRun) status() ShadowStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	if len(r.diffs) < MaxShadowDiffs {
		st.Diffs = append([]ShadowDiff(nil), r.diffs...)
	} else {
		st.Diffs = append(append([]ShadowDiff(nil), r.diffs[r.next:]...), r.diffs[:r.next]...)
	}
	return st
}

// StartShadow starts running req's module as the shadow of req.Operator on
// every subtask from the next checkpoint barrier on, replacing the
// operator's shadow if any, and waits until that checkpoint is complete. It
// returns the checkpoint. The subtasks make their instances themselves, at
// their first batch: one that fails to start counts as Suspended in the
// status.
func (x *Execution) StartShadow(ctx context.Context, req ShadowRequest) (int64, error) {
	if x.shadows.slots[req.Operator] == nil {
		return 0, fmt.Errorf("job %q has no operator %q", x.job.Name, req.Operator)
	}
	if req.Factory == nil {
		return 0, errors.New("shadow: no factory for the module")
	}
	r := &shadowRun{module: req.Module, factory: req.Factory}
	r.st = ShadowStatus{Operator: req.Operator, Module: req.Module, StartedUnixMs: x.cfg.Clock.Now().UnixMilli()}
	return x.control(ctx, &controlReq{shadow: &shadowChange{operator: req.Operator, run: r}})
}

// StopShadow stops the shadow of operator at the next checkpoint barrier and
// returns its final status once that checkpoint is complete.
func (x *Execution) StopShadow(ctx context.Context, operator string) (ShadowStatus, error) {
	slot := x.shadows.slots[operator]
	if slot == nil {
		return ShadowStatus{}, fmt.Errorf("job %q has no operator %q", x.job.Name, operator)
	}
	r := slot.Load()
	if r == nil {
		return ShadowStatus{}, fmt.Errorf("operator %q: %w", operator, ErrNoShadow)
	}
	if _, err := x.control(ctx, &controlReq{shadow: &shadowChange{operator: operator}}); err != nil {
		return ShadowStatus{}, err
	}
	return r.status(), nil
}

// shadowChange starts (run != nil) or stops the shadow of operator at a barrier.
type shadowChange struct {
	operator string
	run      *shadowRun
	id       int64 // the barrier (0 until armed)
}

// armShadow makes ch take effect at the barrier of checkpoint id; from then
// on attempts that start also run its shadow.
func (a *attempt) armShadow(id int64, ch *shadowChange) {
	a.swapMu.Lock()
	defer a.swapMu.Unlock()
	ch.id = id
	if ch.run != nil {
		ch.run.mu.Lock()
		ch.run.st.FromCheckpoint = id
		ch.run.mu.Unlock()
	}
	a.shadowChanges = append(a.shadowChanges, ch)
	if a.cfg.shadows != nil {
		a.cfg.shadows.slots[ch.operator].Store(ch.run)
	}
}

// shadowAt returns the shadow change of operator at barrier id, if any.
func (a *attempt) shadowAt(id int64, operator string) (*shadowChange, bool) {
	a.swapMu.Lock()
	defer a.swapMu.Unlock()
	for _, ch := range a.shadowChanges {
		if ch.id == id && ch.operator == operator {
			return ch, true
		}
	}
	return nil, false
}

// Shadows returns the status of every running shadow, in the job's operator order.
func (x *Execution) Shadows() []ShadowStatus {
	var out []ShadowStatus
	for _, n := range x.job.Operators {
		if r := x.shadows.slots[n.Name].Load(); r != nil {
			out = append(out, r.status())
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// The subtask's side

// shadowSub is the shadow in one operator subtask.
type shadowSub struct {
	run       *shadowRun
	op        Operator     // nil once suspended
	state     *shadowState // nil for an operator without keyed state
	env       opEnv
	live, out capture // what the live and the shadow instance emitted for the batch
	capturing bool    // the live instance's emits are captured
	failed    int     // batches failed in a row
	groups    map[uint64]int32
}

// capture keeps the entries emitted during one batch, each behind a port byte.
type capture struct {
	buf  []byte
	ents []capEntry
}

type capEntry struct {
	port     uint8
	tid      uint64
	from, to int // the raw entry in buf
}

func (c *capture) reset() { c.buf, c.ents = c.buf[:0], c.ents[:0] }

func (c *capture) add(port int, batch []byte) {
	r := abi.NewReader(batch)
	for r.Next() {
		c.buf = append(c.buf, uint8(port))
		from := len(c.buf)
		c.buf = append(c.buf, r.Raw()...)
		c.ents = append(c.ents, capEntry{port: uint8(port), tid: r.Entry().TrackingID, from: from, to: len(c.buf)})
	}
}

func (c *capture) record(e capEntry) ShadowRecord {
	r := abi.NewReader(batchOf(c.buf[e.from:e.to]))
	r.Next()
	return ShadowRecord{Port: int(e.port), Key: bytes.Clone(r.Entry().Key), Value: bytes.Clone(r.Entry().Value)}
}

// batchOf wraps one raw entry in a batch header, to read it back.
func batchOf(raw []byte) []byte {
	var w abi.Writer
	w.Reset()
	w.AppendRaw(raw)
	return w.Detach()
}

// shadowFor returns the subtask's shadow for this batch, starting or
// stopping it when a barrier changed it; nil when none runs.
func (p *operatorProc) shadowFor(ctx context.Context) *shadowSub {
	run := p.shadowRun
	if p.sh != nil && p.sh.run != run {
		p.closeShadow()
	}
	if run == nil {
		return nil
	}
	if p.sh == nil {
		p.sh = p.startShadow(ctx, run)
	}
	if p.sh.op == nil {
		return nil
	}
	return p.sh
}

// startShadow makes the subtask's shadow instance and, for a keyed operator,
// its empty state namespace.
func (p *operatorProc) startShadow(ctx context.Context, run *shadowRun) *shadowSub {
	sh := &shadowSub{run: run, groups: map[uint64]int32{}}
	sh.env = opEnv{p: p, shadow: sh}
	at, n, i := p.t.at, p.node, p.t.id.subtask
	op, err := run.factory.NewOperator(ctx, OperatorInfo{Job: at.job.Name, Name: n.Name, Subtask: i, Parallelism: n.Parallelism, Keyed: p.keyed, Config: n.Config, Logger: p.t.log.With("shadow", run.module)})
	if err == nil && p.keyed {
		var own StateBackend
		own, err = p.openShadowState(ctx)
		if err != nil {
			op.Close()
		} else {
			sh.state = &shadowState{live: p.backend, own: own}
		}
	}
	if err != nil {
		err = fmt.Errorf("subtask %d: start the shadow %s: %w", i, run.module, err)
		p.t.log.Warn("the shadow did not start; the live module runs on", "err", err)
		run.suspend(err)
		return sh
	}
	sh.op = op
	p.t.log.Info("shadow started", "module", run.module)
	return sh
}

func (p *operatorProc) closeShadow() {
	sh := p.sh
	p.sh = nil
	if sh == nil {
		return
	}
	sh.stop()
}

// resyncShadow empties the shadow's state namespace, so that it reads
// through to the live state again: after the shadow failed on a batch, or the
// live instance did. Either way the two states no longer hold the same
// records: the shadow's holds a partial run of the batch, or lacks records the
// live instance processed (those after the shadow's failure, of keys it had
// copied already). Kept, that difference would show on every later record of
// those keys, not only on the records the modules differ on.
func (p *operatorProc) resyncShadow() {
	sh := p.sh
	if sh.state == nil {
		return
	}
	sh.state.own.Close()
	sh.state = nil
	own, err := p.openShadowState(context.Background())
	if err != nil {
		sh.run.suspend(fmt.Errorf("subtask %d: empty the shadow's state after a failed batch: %w", p.t.id.subtask, err))
		sh.stop()
		return
	}
	sh.state = &shadowState{live: p.backend, own: own}
}

// openShadowState opens the subtask's shadow state namespace, empty.
func (p *operatorProc) openShadowState(ctx context.Context) (StateBackend, error) {
	at, n, i := p.t.at, p.node, p.t.id.subtask
	return at.cfg.State.Open(ctx, BackendConfig{
		Dir:        filepath.Join(at.cfg.WorkDir, "shadow", at.job.Name, n.Name, fmt.Sprint(i)),
		KeyGroups:  KeyGroupsFor(i, n.Parallelism, at.job.MaxParallelism),
		Store:      at.cfg.Store,
		Prefix:     "shadow/" + n.Name + "/", // NB: never used: the shadow's state is not checkpointed
		CacheBytes: at.cfg.StateCacheBytes,
		Logger:     p.t.log,
	})
}

// stop closes the instance and removes the state namespace.
func (sh *shadowSub) stop() {
	if sh.op != nil {
		sh.op.Close()
		sh.op = nil
	}
	if sh.state != nil {
		sh.state.own.Close()
		sh.state = nil
	}
}

// runShadow runs batch b through the shadow, if one runs, and returns it with
// the capture of the live emits switched on; the caller runs the live
// instance and then calls compare. It returns nil when no shadow runs or it
// failed on b.
func (p *operatorProc) runShadow(ctx context.Context, b []byte) *shadowSub {
	sh := p.shadowFor(ctx)
	if sh == nil {
		return nil
	}
	now := p.now() // a journaled batch's pinned time (journal.go)
	abi.SetHeader(b, p.t.wm, now)
	p.pinnedNow = now // the live instance's first call sees the same header
	sh.out.reset()
	sh.live.reset()
	cctx, cancel := context.WithTimeout(ctx, shadowCallTimeout)
	sh.env.begin(cctx, b)
	err := sh.op.Process(cctx, b, &sh.env)
	cancel()
	if envErr := sh.env.end(); envErr != nil && err == nil {
		err = envErr
	}
	if err != nil {
		if ctx.Err() == nil {
			p.shadowFailed(b, err)
		}
		return nil
	}
	sh.failed = 0
	sh.capturing = true
	return sh
}

// shadowFailed counts the records of b as failed and suspends the shadow after
// shadowMaxFailedBatches failures in a row.
func (p *operatorProc) shadowFailed(b []byte, err error) {
	sh := p.sh
	n := int64(abi.Count(b))
	d := ShadowDiff{Subtask: p.t.id.subtask, Error: err.Error(), TimeUnixMs: p.t.at.clock.Now().UnixMilli()}
	if e, ok := abi.EntryAt(b, 0); ok {
		var oe *OperatorError
		if errors.As(err, &oe) && oe.Entry >= 0 {
			if f, ok := abi.EntryAt(b, oe.Entry); ok {
				e = f
			}
		}
		d.TrackingID, d.Key, d.Input = e.TrackingID, bytes.Clone(e.Key), bytes.Clone(e.Value)
		d.Position = p.t.at.describeTracking(e.TrackingID)
	}
	sh.run.add(n, 0, 0, n, []ShadowDiff{d})
	if p.resyncShadow(); sh.op == nil {
		return // suspended by resyncShadow
	}
	sh.failed++
	if sh.failed >= shadowMaxFailedBatches {
		err = fmt.Errorf("subtask %d stopped running the shadow after %d failed batches in a row: %w", p.t.id.subtask, sh.failed, err)
		p.t.log.Warn("shadow suspended; the live module runs on", "err", err)
		sh.run.suspend(err)
		sh.stop()
	}
}

// compare counts the batch b that the shadow and then the live instance ran:
// per input record, whether the records that derive from it (by tracking id)
// are the same, in order, on the same ports. liveOK is false when the live
// instance failed: its output is not what will be committed, so nothing is
// counted.
func (p *operatorProc) compare(sh *shadowSub, b []byte, liveOK bool) {
	sh.capturing = false
	if sh != p.sh {
		return
	}
	if !liveOK {
		p.resyncShadow() // the batch runs again, shadow first
		return
	}
	n := int64(abi.Count(b))
	if bytes.Equal(sh.live.buf, sh.out.buf) {
		sh.run.add(n, n, 0, 0, nil)
		return
	}
	// Group the input records by tracking id; group len(inputs) holds the
	// output that derives from none of them.
	clear(sh.groups)
	type group struct {
		first abi.Entry
		n     int64
	}
	var inputs []group
	r := abi.NewReader(b)
	for r.Next() {
		e := r.Entry()
		if g, ok := sh.groups[e.TrackingID]; ok {
			inputs[g].n++
			continue
		}
		sh.groups[e.TrackingID] = int32(len(inputs))
		inputs = append(inputs, group{first: *e, n: 1})
	}
	byGroup := func(c *capture) [][]capEntry {
		out := make([][]capEntry, len(inputs)+1)
		for _, e := range c.ents {
			g, ok := sh.groups[e.tid]
			if !ok {
				g = int32(len(inputs))
			}
			out[g] = append(out[g], e)
		}
		return out
	}
	live, shadow := byGroup(&sh.live), byGroup(&sh.out)
	same := func(g int) bool {
		if len(live[g]) != len(shadow[g]) {
			return false
		}
		for k, le := range live[g] {
			se := shadow[g][k]
			if le.port != se.port || !bytes.Equal(sh.live.buf[le.from:le.to], sh.out.buf[se.from:se.to]) {
				return false
			}
		}
		return true
	}
	var mismatched int64
	var diffs []ShadowDiff
	now := p.t.at.clock.Now().UnixMilli()
	for g := range live {
		if same(g) {
			continue
		}
		d := ShadowDiff{Subtask: p.t.id.subtask, TimeUnixMs: now}
		if g < len(inputs) {
			e := inputs[g].first
			mismatched += inputs[g].n
			d.TrackingID, d.Key, d.Input = e.TrackingID, bytes.Clone(e.Key), bytes.Clone(e.Value)
			d.Position = p.t.at.describeTracking(e.TrackingID)
		} else {
			mismatched++ // output of no input record of the batch: counted once
		}
		for _, e := range live[g] {
			d.Live = append(d.Live, sh.live.record(e))
		}
		for _, e := range shadow[g] {
			d.Shadow = append(d.Shadow, sh.out.record(e))
		}
		if len(diffs) < MaxShadowDiffs {
			diffs = append(diffs, d)
		}
	}
	sh.run.add(n, max(n-mismatched, 0), mismatched, 0, diffs)
}

// ---------------------------------------------------------------------------
// The shadow's state

// shadowState is the shadow's view of the keyed state: its own namespace
// (own) in front of the live state, which it only reads. A key the shadow has
// not read or written yet reads through to the live state, and the value read
// is copied into own (copy on read), so that later writes of the live
// instance do not show through; from then on the shadow sees only its own
// version of the key. Values in own carry a tag byte: ownValue, or
// ownDeleted for a key the shadow deleted (which must hide the live value).
//
// NB: a key the shadow never reads is not pinned: if the live instance
// changes it meanwhile, the shadow's first read sees the change. For a shadow
// that reads the keys of the records it processes, as the live one does, that
// is the same value.
type shadowState struct {
	live StateBackend // read only
	own  StateBackend
	buf  []byte
}

const (
	ownDeleted byte = 0
	ownValue   byte = 1
)

var _ StateBackend = (*shadowState)(nil)

func (s *shadowState) put(key []byte, tag byte, value []byte) error {
	s.buf = append(append(s.buf[:0], tag), value...)
	return s.own.Set(key, s.buf)
}

// Get returns the shadow's value of key.
func (s *shadowState) Get(key []byte) ([]byte, bool, error) {
	v, ok, err := s.own.Get(key)
	if err != nil {
		return nil, false, err
	}
	if ok {
		if len(v) == 0 || v[0] == ownDeleted {
			return nil, false, nil
		}
		return v[1:], true, nil
	}
	v, ok, err = s.live.Get(key)
	if err != nil {
		return nil, false, err
	}
	tag := ownValue
	if !ok {
		tag = ownDeleted
	}
	if err := s.put(key, tag, v); err != nil {
		return nil, false, err
	}
	return v, ok, nil
}

// Set writes key in the shadow's namespace.
func (s *shadowState) Set(key, value []byte) error { return s.put(key, ownValue, value) }

// Delete hides key from the shadow.
func (s *shadowState) Delete(key []byte) error { return s.put(key, ownDeleted, nil) }

// DeleteRange hides every key in [start, end) from the shadow: its own are
// removed, and each live one gets a deletion mark.
func (s *shadowState) DeleteRange(start, end []byte) error {
	var keys [][]byte
	if err := s.live.Scan(start, end, func(k, _ []byte) bool {
		keys = append(keys, bytes.Clone(k))
		return true
	}); err != nil {
		return err
	}
	if err := s.own.DeleteRange(start, end); err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.put(k, ownDeleted, nil); err != nil {
			return err
		}
	}
	return nil
}

// Scan merges the shadow's keys in [start, end) with the live ones it has not
// read yet (which it copies, as Get does).
func (s *shadowState) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	type kv struct{ k, v []byte }
	var own []kv
	if err := s.own.Scan(start, end, func(k, v []byte) bool {
		own = append(own, kv{bytes.Clone(k), bytes.Clone(v)})
		return true
	}); err != nil {
		return err
	}
	next, stopped := 0, false
	// emitOwn hands fn the shadow's keys before limit (all when limit is nil).
	emitOwn := func(limit []byte) bool {
		for ; next < len(own) && (limit == nil || bytes.Compare(own[next].k, limit) < 0); next++ {
			if v := own[next].v; len(v) > 0 && v[0] == ownValue && !fn(own[next].k, v[1:]) {
				return false
			}
		}
		return true
	}
	var putErr error
	err := s.live.Scan(start, end, func(k, v []byte) bool {
		if !emitOwn(k) {
			stopped = true
			return false
		}
		if next < len(own) && bytes.Equal(own[next].k, k) {
			return true // the shadow's version is emitted by emitOwn
		}
		if putErr = s.put(k, ownValue, v); putErr != nil {
			return false
		}
		if !fn(k, v) {
			stopped = true
			return false
		}
		return true
	})
	if err != nil || putErr != nil || stopped {
		return errors.Join(err, putErr)
	}
	emitOwn(nil)
	return nil
}

// Checkpoint is never called: the shadow's state is not checkpointed.
func (s *shadowState) Checkpoint(context.Context, int64) (Upload, error) {
	panic("checkpoint of a shadow's state")
}

// Close closes the shadow's namespace (not the live state).
func (s *shadowState) Close() error { return s.own.Close() }

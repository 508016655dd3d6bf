package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/weirstream/weir/abi"
)

// A subtask is a state machine: it reacts to one event at a time (a message on
// one of its inputs, a checkpoint trigger, a clock tick) and produces effects
// (messages on its outputs, acknowledgements to the coordinator). It never starts
// goroutines of its own and never reads the clock except through its attempt, so
// the same code runs under the production driver (a goroutine per subtask) and
// under the simulation's seeded scheduler.

// taskID names a subtask.
type taskID struct {
	node    string
	subtask int
}

func (t taskID) String() string { return fmt.Sprintf("%s[%d]", t.node, t.subtask) }

// ackMsg is a subtask's acknowledgement of a checkpoint.
type ackMsg struct {
	task       taskID
	checkpoint int64
	splits     map[string]SplitSnapshot // sources
	state      *StateHandle             // keyed operators
	committed  []byte                   // sinks
	journal    *JournalSegment          // operators with a journal: the input since the barrier before
	dead       []DeadLetter             // operators: records dead-lettered since the barrier before
	err        error                    // the subtask could not take its part
	alignment  time.Duration            // how long the subtask held back inputs for the barrier
}

// taskCommon is what every subtask has.
type taskCommon struct {
	id          taskID
	parallelism int
	outs        outputs
	at          *attempt
	log         *slog.Logger
}

// ---------------------------------------------------------------------------
// Sources

type splitState struct {
	id       string
	index    int         // index of the split in the source's split list (for tracking ids)
	reader   SplitReader // nil for a split that ended before the restored checkpoint
	position []byte      // the restored position, while reader is nil
	records  uint64      // records read so far
	maxTs    int64
	finished bool
}

// sourceTask reads the splits assigned to one source subtask, in turn.
type sourceTask struct {
	taskCommon
	node     *SourceNode
	nodeIdx  int // index of the source in the job (for tracking ids)
	splits   []*splitState
	next     int   // split to read next
	wm       int64 // last watermark sent
	w        abi.Writer
	counter  *atomic.Int64
	reported bool // finished reported to the coordinator
}

// Tracking ids (ABI.md §4.2) identify an input message: source (8 bits), split
// (16 bits) and the record's sequence number within its split (40 bits).
func trackingID(source, split int, seq uint64) uint64 {
	return uint64(source+1)<<56 | uint64(split&0xffff)<<40 | seq&(1<<40-1)
}

func (s *sourceTask) finished() bool {
	for _, sp := range s.splits {
		if !sp.finished {
			return false
		}
	}
	return true
}

// start runs once before the first poll: a subtask with no split left to read
// (none assigned, or all ended before the restored checkpoint) ends event time
// at once and reports itself finished.
func (s *sourceTask) start() error {
	if !s.finished() {
		return nil
	}
	if err := s.advanceWatermark(); err != nil {
		return err
	}
	s.reported = true
	s.at.sourceFinished(s.id)
	return nil
}

// poll reads one batch from the next unfinished split and sends it on. It
// reports whether it read anything.
func (s *sourceTask) poll(ctx context.Context) (bool, error) {
	for range s.splits {
		sp := s.splits[s.next]
		s.next = (s.next + 1) % len(s.splits)
		if sp.finished {
			continue
		}
		s.w.Use(s.at.pool.get())
		s.w.Reset()
		n, err := sp.reader.Read(ctx, &s.w, s.at.cfg.BatchRecords)
		if err != nil && !errors.Is(err, io.EOF) {
			s.at.pool.put(s.w.Detach())
			return false, fmt.Errorf("source %q split %q: read: %w", s.node.Name, sp.id, err)
		}
		if n != s.w.Count() {
			panic(fmt.Sprintf("source %q split %q: Read returned %d but appended %d records", s.node.Name, sp.id, n, s.w.Count()))
		}
		// Stamp tracking ids and track the highest timestamp, in one walk.
		for off := abi.BatchHeaderSize; off < s.w.Size(); off = s.w.EntryEnd(off) {
			s.w.SetTrackingID(off, trackingID(s.nodeIdx, sp.index, sp.records))
			sp.records++
			if ts := s.w.EntryTimestamp(off); ts != abi.NoTimestamp && ts > sp.maxTs {
				sp.maxTs = ts
			}
		}
		if errors.Is(err, io.EOF) {
			sp.finished = true
		}
		b := s.w.Detach()
		taken := false
		if n > 0 {
			s.counter.Add(int64(n))
			// NB: most often the batch goes downstream as it is (emitOwned),
			// and the receiver returns it to the pool.
			var err error
			if taken, err = s.outs.emitOwned(0, b); err != nil {
				return false, err
			}
			if err := s.outs.flush(); err != nil {
				return false, err
			}
		}
		if !taken {
			s.at.pool.put(b)
		}
		if err := s.advanceWatermark(); err != nil {
			return false, err
		}
		if s.finished() && !s.reported {
			s.reported = true
			s.at.sourceFinished(s.id)
		}
		return n > 0 || sp.finished, nil
	}
	return false, nil
}

// advanceWatermark sends the subtask's watermark if it rose: the lowest of its
// unfinished splits' watermarks (highest timestamp - out-of-orderness - 1, the
// bounded-out-of-orderness rule), or the end of time once every split ended.
func (s *sourceTask) advanceWatermark() error {
	wm := abi.MaxWatermark
	delay := s.node.OutOfOrderness.Milliseconds()
	for _, sp := range s.splits {
		if sp.finished {
			continue
		}
		w := abi.NoTimestamp
		if sp.maxTs != abi.NoTimestamp {
			w = sp.maxTs - delay - 1
		}
		wm = min(wm, w)
	}
	if wm <= s.wm {
		return nil
	}
	s.wm = wm
	return s.outs.broadcast(message{kind: msgWatermark, watermark: wm})
}

// trigger takes the source's part of checkpoint id: it records every split's
// position and sends the barrier after the records read so far.
func (s *sourceTask) trigger(id int64) error {
	snap := make(map[string]SplitSnapshot, len(s.splits))
	for _, sp := range s.splits {
		pos := sp.position
		if sp.reader != nil {
			pos = append([]byte(nil), sp.reader.Position()...)
		}
		snap[sp.id] = SplitSnapshot{Position: pos, Records: sp.records, Finished: sp.finished}
	}
	if err := s.outs.broadcast(message{kind: msgBarrier, checkpoint: id}); err != nil {
		return err
	}
	s.at.ack(ackMsg{task: s.id, checkpoint: id, splits: snap})
	return nil
}

func (s *sourceTask) close() {
	for _, sp := range s.splits {
		if sp.reader != nil {
			if err := sp.reader.Close(); err != nil {
				s.log.Warn("close split", "split", sp.id, "err", err)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Operators and sinks: subtasks with inputs

// processor is what an input subtask does with what its inputs deliver, once
// barriers are aligned and watermarks combined.
type processor interface {
	batch(ctx context.Context, b []byte) error
	watermark(ctx context.Context, wm int64) error
	checkpoint(ctx context.Context, id int64) error
	tick(ctx context.Context) error
	close()
}

// inputTask aligns checkpoint barriers and combines watermarks over its inputs.
type inputTask struct {
	taskCommon
	proc      processor
	wms       []int64 // per input
	wm        int64   // combined: the lowest of wms
	blocked   []bool  // input delivered the barrier being aligned
	nBlocked  int
	aligning  int64         // checkpoint being aligned, 0 if none
	receivers []any         // driver-specific receiving ends, one per input
	alignFrom time.Time     // when the first barrier of the alignment arrived
	aligned   time.Duration // how long the last alignment held inputs back
}

func (t *inputTask) numInputs() int { return len(t.wms) }

// isBlocked reports whether input i must not be read now: it already delivered
// the barrier of the checkpoint being aligned.
func (t *inputTask) isBlocked(i int) bool { return t.blocked[i] }

// handle processes message m from input i.
func (t *inputTask) handle(ctx context.Context, i int, m message) error {
	switch m.kind {
	case msgBatch:
		err := t.proc.batch(ctx, m.batch)
		t.at.pool.put(m.batch)
		return err
	case msgWatermark:
		if m.watermark <= t.wms[i] {
			return nil
		}
		t.wms[i] = m.watermark
		wm := abi.MaxWatermark
		for _, w := range t.wms {
			wm = min(wm, w)
		}
		if wm > t.wm {
			t.wm = wm
			return t.proc.watermark(ctx, wm)
		}
		return nil
	case msgBarrier:
		if t.aligning != 0 && m.checkpoint != t.aligning {
			// INVARIANT: sources send every barrier they are triggered for, in order,
			// and channels are FIFO, so an input can never skip the one being aligned.
			panic(fmt.Sprintf("%s: barrier %d on input %d while aligning %d", t.id, m.checkpoint, i, t.aligning))
		}
		if t.aligning == 0 && len(t.blocked) > 1 {
			t.alignFrom = time.Now()
		}
		t.aligning = m.checkpoint
		t.blocked[i] = true
		t.nBlocked++
		if t.nBlocked < len(t.blocked) {
			return nil
		}
		t.aligned = 0
		if len(t.blocked) > 1 {
			t.aligned = time.Since(t.alignFrom)
		}
		for j := range t.blocked {
			t.blocked[j] = false
		}
		t.nBlocked, t.aligning = 0, 0
		return t.proc.checkpoint(ctx, m.checkpoint)
	}
	panic(fmt.Sprintf("%s: unknown message kind %d", t.id, m.kind))
}

// sinkProc hands batches to a SinkWriter and pre-commits at barriers.
type sinkProc struct {
	t       *inputTask
	writer  SinkWriter
	counter *atomic.Int64
}

func (p *sinkProc) batch(ctx context.Context, b []byte) error {
	start := time.Now()
	n := abi.Count(b)
	if err := p.writer.Write(ctx, b); err != nil {
		p.t.at.obs().Failure(p.t.at.job.Name, p.t.id.node, p.t.id.subtask)
		return fmt.Errorf("sink %s: write: %w", p.t.id, err)
	}
	p.counter.Add(int64(n))
	p.t.at.obs().Batch(p.t.at.job.Name, p.t.id.node, p.t.id.subtask, n, 0, time.Since(start))
	return nil
}

func (p *sinkProc) watermark(context.Context, int64) error { return nil }
func (p *sinkProc) tick(context.Context) error             { return nil }

func (p *sinkProc) checkpoint(ctx context.Context, id int64) error {
	c, err := p.writer.PreCommit(ctx, id)
	if err != nil {
		return fmt.Errorf("sink %s: pre-commit of checkpoint %d: %w", p.t.id, id, err)
	}
	p.t.at.ack(ackMsg{task: p.t.id, checkpoint: id, committed: c, alignment: p.t.aligned})
	return nil
}

func (p *sinkProc) close() {
	if err := p.writer.Close(); err != nil {
		p.t.log.Warn("close sink writer", "err", err)
	}
}

// ---------------------------------------------------------------------------
// Operators

// operatorProc runs a user operator: batches and fired timers go through
// Operator.Process with an Env that scopes state and timers to each entry's key.
type operatorProc struct {
	counter *atomic.Int64 // records emitted
	t       *inputTask
	node    *OperatorNode
	op      Operator
	keyed   bool
	backend StateBackend // nil unless keyed
	// state is what the Env reads and writes: backend, or tx in front of it.
	state  StateBackend
	tx     *txState // nil unless the failure policy isolates batches (failure.go)
	timers *timerService
	// callExpiry holds the expiry timers of the call journal (calls.go).
	callExpiry *timerService
	env        opEnv
	timerBuf   abi.Writer
	module     string       // the module running now, for dead letters
	attempt    int          // delivery attempt of the records being run (0: a first delivery)
	dead       []DeadLetter // dead letters since the last barrier
	// shadowRun is the operator's shadow from the last barrier on (shadow.go),
	// sh its instance here.
	shadowRun *shadowRun
	sh        *shadowSub
	// canary runs another module on some key groups (canary.go); nil: none.
	canary    *canarySub
	jbuf      *journalBuf // the input since the last barrier, if the operator keeps a journal (journal.go)
	replaying bool        // a Replay runs it: no side effects
	jacks     ackSeq      // the journal's acknowledgements, in barrier order
	pinnedNow int64       // the processing time of the next call, if not 0 (the shadow's)
}

func (p *operatorProc) batch(ctx context.Context, b []byte) error {
	if err := p.runInjected(ctx); err != nil {
		return err
	}
	if err := p.fireProcessingTimers(ctx); err != nil {
		return err
	}
	return p.records(ctx, b)
}

// process runs one batch of timers through the operator. A guest failure
// stops the job whatever the policy: a timer cannot go to the DLQ, and
// replaying it would fail again.
func (p *operatorProc) process(ctx context.Context, b []byte) error {
	p.journal(b)
	if err, guest := p.call(ctx, b); err != nil {
		if guest {
			return &RecordFailedError{Err: p.describe(err, b), Tries: 1}
		}
		return p.describe(err, b)
	}
	return p.t.outs.flush()
}

// call runs one batch through the operator. guest reports that the error is
// the guest's failure rather than the host's.
func (p *operatorProc) call(ctx context.Context, b []byte) (err error, guest bool) {
	if p.canary != nil {
		return p.callCanary(ctx, b)
	}
	return p.callOne(ctx, p.op, b, p.now())
}

// now returns the processing time of the next call.
func (p *operatorProc) now() int64 {
	now := p.t.at.clock.Now().UnixMilli()
	if p.pinnedNow != 0 {
		now, p.pinnedNow = p.pinnedNow, 0
	}
	return now
}

// callOne runs batch b through instance op (the live one, or the canary's).
func (p *operatorProc) callOne(ctx context.Context, op Operator, b []byte, now int64) (err error, guest bool) {
	abi.SetHeader(b, p.t.wm, now)
	p.env.begin(ctx, b)
	start := time.Now()
	err = op.Process(ctx, b, &p.env)
	obs := p.t.at.obs()
	if err != nil {
		obs.Failure(p.t.at.job.Name, p.node.Name, p.t.id.subtask)
	} else {
		obs.Batch(p.t.at.job.Name, p.node.Name, p.t.id.subtask, abi.Count(b), p.env.emitted, time.Since(start))
		p.counter.Add(int64(p.env.emitted))
	}
	if envErr := p.env.end(); envErr != nil {
		// The host-side cause (say, a state storage error) is what the user needs.
		var oe *OperatorError
		if errors.As(err, &oe) {
			oe.Err = fmt.Errorf("%w: %v", envErr, oe.Err)
		} else {
			err = envErr
		}
		return err, false
	}
	if err == nil {
		return nil, false
	}
	var oe *OperatorError
	guest = errors.As(err, &oe)
	if note := p.env.callNote; note != nil && guest {
		// NB: the guest saw only a code; the host knows which endpoint and why.
		oe.Err = fmt.Errorf("%w (after %v)", oe.Err, note)
	}
	return err, guest
}

// describe completes an operator error with where it happened.
func (p *operatorProc) describe(err error, b []byte) *OperatorError {
	var oe *OperatorError
	if !errors.As(err, &oe) {
		oe = &OperatorError{Entry: -1, Err: err}
	}
	oe.Operator, oe.Subtask = p.node.Name, p.t.id.subtask
	if oe.Entry >= 0 {
		if e, ok := abi.EntryAt(b, oe.Entry); ok {
			oe.Key, oe.Timestamp, oe.TrackingID = append([]byte(nil), e.Key...), e.Timestamp, e.TrackingID
			if e.Kind == abi.KindRecord {
				oe.Position = p.t.at.describeTracking(e.TrackingID)
			} else {
				oe.Position = e.Kind.String()
			}
		}
	}
	return oe
}

func (p *operatorProc) watermark(ctx context.Context, wm int64) error {
	if err := p.runInjected(ctx); err != nil {
		return err
	}
	if p.timers != nil {
		if err := p.fireTimers(ctx, abi.KindEventTimer, wm); err != nil {
			return err
		}
	}
	return p.t.outs.broadcast(message{kind: msgWatermark, watermark: wm})
}

func (p *operatorProc) tick(ctx context.Context) error {
	if err := p.runInjected(ctx); err != nil {
		return err
	}
	return p.fireProcessingTimers(ctx)
}

func (p *operatorProc) fireProcessingTimers(ctx context.Context) error {
	if p.timers == nil {
		return nil
	}
	if err := p.expireCalls(); err != nil {
		return err
	}
	t, ok, err := p.timers.next(abi.KindProcessingTime)
	if err != nil || !ok || t.time > p.t.at.clock.Now().UnixMilli() {
		return err
	}
	return p.fireTimers(ctx, abi.KindProcessingTime, p.t.at.clock.Now().UnixMilli())
}

// fireTimers runs every timer of kind due at or before now, in batches, until
// none is due (timers set while firing may be due too).
func (p *operatorProc) fireTimers(ctx context.Context, kind abi.Kind, now int64) error {
	for {
		p.timerBuf.Use(p.t.at.pool.get())
		p.timerBuf.Reset()
		n, err := p.timers.popDue(kind, now, p.t.at.cfg.BatchRecords, &p.timerBuf)
		b := p.timerBuf.Detach()
		if err == nil && n > 0 {
			err = p.process(ctx, b)
		}
		p.t.at.pool.put(b)
		if err != nil || n == 0 {
			return err
		}
	}
}

func (p *operatorProc) checkpoint(ctx context.Context, id int64) error {
	// INVARIANT: what was injected before this barrier was triggered runs
	// before it (see coordinator.tick).
	if err := p.runInjected(ctx); err != nil {
		return err
	}
	start := time.Now()
	if err := p.t.outs.flush(); err != nil {
		return err
	}
	var upload Upload
	if p.backend != nil {
		u, err := p.backend.Checkpoint(ctx, id)
		if err != nil {
			return fmt.Errorf("operator %s: checkpoint %d: %w", p.t.id, id, err)
		}
		upload = u
	}
	if err := p.t.outs.broadcast(message{kind: msgBarrier, checkpoint: id}); err != nil {
		return err
	}
	if plan := p.t.at.swapAt(id, p.node.Name); plan != nil && plan.canary != nil {
		// The records of its key groups after this barrier are the canary's (canary.go).
		p.canary = newCanarySub(plan.take(p.t.id.subtask), plan.module, plan.canary, p.t.at.job.MaxParallelism)
		p.t.log.Info("canary started", "checkpoint", id, "module", plan.module, "keyGroups", len(plan.canary))
	} else if plan != nil && plan.rollback {
		p.closeCanary()
		p.t.log.Info("canary rolled back", "checkpoint", id, "module", p.module)
	} else if plan != nil {
		// The records after this barrier are the new module's (see swap.go);
		// a canary ends with the swap.
		p.closeCanary()
		old := p.op
		p.op = plan.take(p.t.id.subtask)
		p.module = plan.module
		if err := old.Close(); err != nil {
			p.t.log.Warn("close the swapped-out operator instance", "err", err)
		}
		pause := p.t.aligned + time.Since(start)
		p.t.log.Info("module swapped", "checkpoint", id, "module", plan.module, "pause", pause)
		p.t.at.obs().Swap(p.t.at.job.Name, p.node.Name, p.t.id.subtask, plan.module, id, pause)
	}
	if ch, ok := p.t.at.shadowAt(id, p.node.Name); ok {
		p.shadowRun = ch.run // the shadow's records start (or end) after this barrier
	}
	dead := p.dead
	p.dead = nil
	jseg := p.takeJournal()
	if upload == nil && jseg == nil {
		p.t.at.ack(ackMsg{task: p.t.id, checkpoint: id, alignment: p.t.aligned, dead: dead})
		return nil
	}
	tid, at, aligned := p.t.id, p.t.at, p.t.aligned
	// A journal's acknowledgements go in barrier order, whatever order the
	// uploads end in: one of an abandoned checkpoint must reach the
	// coordinator before the next checkpoint completes, which carries it.
	send := at.ack
	if jseg != nil {
		send = p.jacks.next(at.ack)
	}
	at.async(func(ctx context.Context) {
		m := ackMsg{task: tid, checkpoint: id, alignment: aligned, dead: dead}
		if jseg != nil {
			// NB: acknowledged even with an error, so that the checkpoint
			// after carries it (a segment that could not be stored is
			// marked truncated: replay will not run through it).
			seg, err := jseg.put(ctx, at.cfg.Store, tid, id)
			if err != nil {
				seg = JournalSegment{Checkpoint: id, Truncated: true}
				m.err = fmt.Errorf("operator %s: checkpoint %d: %w", tid, id, err)
			}
			m.journal = &seg
		}
		if upload != nil && m.err == nil {
			h, err := upload(ctx)
			if err != nil {
				m.err = fmt.Errorf("operator %s: upload state of checkpoint %d: %w", tid, id, err)
			} else {
				m.state = &h
			}
		}
		if m.err != nil {
			m.alignment = 0
		}
		send(m)
	})
	return nil
}

func (p *operatorProc) close() {
	p.closeShadow()
	p.closeCanary()
	if err := p.op.Close(); err != nil {
		p.t.log.Warn("close operator", "err", err)
	}
	if p.backend != nil {
		if err := p.backend.Close(); err != nil {
			p.t.log.Warn("close state backend", "err", err)
		}
	}
}

// tickInterval is how often an idle operator subtask checks its processing-time
// timers.
const tickInterval = 100 * time.Millisecond

package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// coordinator drives checkpoints for one attempt: it decides when to trigger
// one, collects the acknowledgements of every subtask, writes the manifest when
// all are in (which is what makes the checkpoint complete), then has the sinks
// commit. It is a plain state machine used from one goroutine; the driver feeds
// it ticks and acknowledgements.
type coordinator struct {
	job   *Job
	store SnapshotStore
	log   *slog.Logger

	tasks        int   // subtasks that acknowledge each checkpoint
	sourceTasks  int   // source subtasks
	finishedSrcs int   // source subtasks whose splits all ended
	nextID       int64 // id of the next checkpoint
	lastStart    time.Time
	pending      *pendingCheckpoint
	failures     int // consecutive failed checkpoints
	stopping     bool
	finalID      int64 // the checkpoint after which the attempt ends (0: none yet)
	completed    int64 // newest complete checkpoint
	// carried holds, per sink, committables pre-committed for checkpoints that
	// were abandoned: their transactions hold records no later transaction
	// has, so they are committed with the next checkpoint that completes.
	carried map[string][][]byte
	// carriedDead holds the dead letters acknowledged for abandoned checkpoints:
	// their records are past, so the next checkpoint commits them.
	carriedDead []DeadLetter
	// carriedActions are DLQ changes of abandoned checkpoints.
	carriedActions []DLQAction
	// carriedJournals are the input journal segments of abandoned
	// checkpoints: the input they hold ran before the next barrier.
	carriedJournals map[taskID][]JournalSegment
	dlq             *dlqLog            // as of the newest complete checkpoint
	onDLQ           func(*DLQSnapshot) // called when a checkpoint changed the DLQ
	done            bool               // finalID completed
	finishedJob     bool               // the final checkpoint saw every source ended
	onComplete      func(m *Manifest)
	// splitNames and ackFrom are for the job's AckSink (acks.go): the split
	// list of each source, and each split's Records at the newest complete
	// checkpoint.
	splitNames [][]string
	ackFrom    map[string]map[string]ackStart
	// ctl holds the control requests (forced checkpoints, swaps) and the module
	// history written into each manifest.
	ctl   *controller
	obs   Observer         // nil: none
	fence CheckpointFence  // nil: every completion is admitted
	now   func() time.Time // the attempt's clock
}

type pendingCheckpoint struct {
	alignment time.Duration // the longest of the subtasks'
	id        int64
	started   time.Time
	acks      map[taskID]bool
	m         *Manifest
	dead      []DeadLetter // records dead-lettered before this barrier
	actions   []DLQAction  // DLQ changes requested through the API
	// resubmitted are the DLQ entries whose records run before this barrier.
	resubmitted []int64
}

// maxCheckpointFailures is how many checkpoints in a row may fail (time out, or a
// subtask declines) before the attempt fails.
const maxCheckpointFailures = 3

func newCoordinator(job *Job, store SnapshotStore, log *slog.Logger, tasks, sourceTasks int, nextID int64, now time.Time) *coordinator {
	return &coordinator{job: job, store: store, log: log, tasks: tasks, sourceTasks: sourceTasks, nextID: nextID, lastStart: now, carried: map[string][][]byte{}, dlq: newDLQLog()}
}

// requestStop asks for a final checkpoint, after which the attempt ends.
func (c *coordinator) requestStop() { c.stopping = true }

func (c *coordinator) sourceFinished() { c.finishedSrcs++ }

// tick returns the id of a checkpoint to trigger now, or 0. It also abandons a
// checkpoint that ran past its timeout.
func (c *coordinator) tick(now time.Time) (int64, error) {
	if c.pending != nil {
		if now.Sub(c.pending.started) <= c.job.Checkpoint.Timeout {
			return 0, nil
		}
		if err := c.abandon(fmt.Errorf("checkpoint %d timed out after %v", c.pending.id, c.job.Checkpoint.Timeout)); err != nil {
			return 0, err
		}
	}
	if c.finalID != 0 {
		return 0, nil
	}
	final := c.stopping || c.finishedSrcs == c.sourceTasks
	forced := c.ctl != nil && c.ctl.forced != nil
	if !final && !forced && now.Sub(c.lastStart) < c.job.Checkpoint.Interval {
		return 0, nil
	}
	id := c.nextID
	c.nextID++
	c.lastStart = now
	if final {
		c.finalID = id
	}
	c.pending = &pendingCheckpoint{id: id, started: now, acks: map[taskID]bool{}, m: &Manifest{
		Format: manifestFormat, Job: c.job.Name, Checkpoint: id, TimeUnixMs: now.UnixMilli(), MaxParallelism: c.job.MaxParallelism,
		Sources: map[string]*SourceSnapshot{}, Operators: map[string]*OperatorSnap{}, Sinks: map[string]*SinkSnapshot{},
	}}
	if c.ctl != nil {
		if act := c.ctl.triggered(id, now.UnixMilli()); act != nil {
			c.pending.actions = append(c.pending.actions, *act)
		}
		c.pending.m.Modules = append([]ModuleChange(nil), c.ctl.modules...)
	}
	// The records of a resubmission committed before now were handed to their
	// operators before this trigger, so they run before this barrier.
	c.pending.resubmitted = c.dlq.resubmitting()
	return id, nil
}

func (c *coordinator) abandon(err error) error {
	c.failures++
	if c.obs != nil {
		c.obs.CheckpointFailed(c.job.Name, c.pending.id, c.now().Sub(c.pending.started), err)
	}
	c.log.Warn("checkpoint abandoned", "checkpoint", c.pending.id, "err", err, "failuresInARow", c.failures)
	if c.pending.id == c.finalID {
		c.finalID = 0 // try the final checkpoint again
	}
	for name, sk := range c.pending.m.Sinks {
		c.carried[name] = append(c.carried[name], sk.Committables...)
	}
	c.carriedDead = append(c.carriedDead, c.pending.dead...)
	c.carriedActions = append(c.carriedActions, c.pending.actions...)
	for name, subs := range c.pending.m.Journals {
		for i, segs := range subs {
			c.carryJournal(taskID{name, i}, segs...)
		}
	}
	c.pending = nil
	if c.failures >= maxCheckpointFailures {
		return fmt.Errorf("%d checkpoints in a row failed; last: %w", c.failures, err)
	}
	return nil
}

// onAck records an acknowledgement. When it is the last one, it writes the
// manifest and commits the sinks; the returned manifest is then not nil.
func (c *coordinator) onAck(ctx context.Context, a ackMsg) (*Manifest, error) {
	p := c.pending
	if p == nil || a.checkpoint != p.id {
		// An acknowledgement of an abandoned checkpoint. A sink's committable must
		// not be dropped: its transaction holds the records since the barrier before.
		if a.committed != nil {
			c.carried[a.task.node] = append(c.carried[a.task.node], a.committed)
		}
		c.carriedDead = append(c.carriedDead, a.dead...) // likewise dead letters
		if a.journal != nil {
			c.carryJournal(a.task, *a.journal) // and journaled input
		}
		return nil, nil
	}
	p.dead = append(p.dead, a.dead...)
	if a.journal != nil {
		m := p.m
		if m.Journals == nil {
			m.Journals = map[string][][]JournalSegment{}
		}
		if m.Journals[a.task.node] == nil {
			m.Journals[a.task.node] = make([][]JournalSegment, c.parallelism(a.task.node))
		}
		m.Journals[a.task.node][a.task.subtask] = append(m.Journals[a.task.node][a.task.subtask], *a.journal)
	}
	if a.err != nil {
		return nil, c.abandon(a.err)
	}
	if p.acks[a.task] {
		panic(fmt.Sprintf("checkpoint %d: %s acknowledged twice", p.id, a.task))
	}
	p.acks[a.task] = true
	p.alignment = max(p.alignment, a.alignment)
	m := p.m
	switch {
	case a.splits != nil:
		s := m.Sources[a.task.node]
		if s == nil {
			s = &SourceSnapshot{Splits: map[string]SplitSnapshot{}}
			m.Sources[a.task.node] = s
		}
		for id, st := range a.splits {
			s.Splits[id] = st
		}
	case a.state != nil:
		o := c.operatorSnap(a.task.node)
		o.State[a.task.subtask] = *a.state
	default:
		if a.committed != nil {
			s := m.Sinks[a.task.node]
			if s == nil {
				s = &SinkSnapshot{}
				m.Sinks[a.task.node] = s
			}
			s.Committables = append(s.Committables, a.committed)
		}
	}
	if len(p.acks) < c.tasks {
		return nil, nil
	}
	return c.complete(ctx)
}

func (c *coordinator) operatorSnap(name string) *OperatorSnap {
	o := c.pending.m.Operators[name]
	if o == nil {
		p := c.parallelism(name)
		o = &OperatorSnap{Parallelism: p, State: make([]StateHandle, p)}
		c.pending.m.Operators[name] = o
	}
	return o
}

func (c *coordinator) parallelism(name string) int {
	for _, n := range c.job.Operators {
		if n.Name == name {
			return n.Parallelism
		}
	}
	for _, n := range c.job.Sinks {
		if n.Name == name {
			return n.Parallelism
		}
	}
	panic("unknown node " + name)
}

// complete writes the manifest of the pending checkpoint and commits the sinks.
func (c *coordinator) complete(ctx context.Context) (*Manifest, error) {
	p := c.pending
	m := p.m
	for name, cs := range c.carried {
		s := m.Sinks[name]
		if s == nil {
			s = &SinkSnapshot{}
			m.Sinks[name] = s
		}
		s.Committables = append(cs, s.Committables...)
	}
	for t, segs := range c.carriedJournals {
		if js := m.Journals[t.node]; t.subtask < len(js) {
			js[t.subtask] = append(segs, js[t.subtask]...)
			slices.SortFunc(js[t.subtask], func(a, b JournalSegment) int { return cmp.Compare(a.Checkpoint, b.Checkpoint) })
		}
	}
	m.Finished = true
	for _, s := range m.Sources {
		for _, sp := range s.Splits {
			m.Finished = m.Finished && sp.Finished
		}
	}
	dlq, err := c.stageDLQ(ctx, p)
	if err != nil {
		return nil, c.abandon(err)
	}
	m.DLQ = dlq.ref()
	if c.job.Acks != nil {
		ackRanges(m, c.ackFrom)
	}
	// INVARIANT: the fence admits a checkpoint before its manifest exists: a
	// manifest is what a restore (of any leader) takes as complete, and what
	// Recover commits.
	if c.fence != nil {
		if err := c.fence.AdmitCheckpoint(ctx, c.job.Name, p.id); err != nil {
			if errors.Is(err, ErrFenced) {
				c.log.Warn("checkpoint refused: a newer leader runs the job; stopping it without committing", "checkpoint", p.id, "err", err)
				return nil, fmt.Errorf("complete checkpoint %d: %w", p.id, err)
			}
			return nil, c.abandon(fmt.Errorf("admit checkpoint: %w", err))
		}
	}
	if err := writeManifest(ctx, c.store, manifestObject(p.id), m); err != nil {
		return nil, c.abandon(fmt.Errorf("write manifest: %w", err))
	}
	c.pending, c.failures, c.completed = nil, 0, p.id
	c.ackFrom = ackedRecords(m)
	clear(c.carried) // in the manifest now: Recover commits them after a crash
	c.carriedDead, c.carriedActions, c.carriedJournals = nil, nil, nil
	if dlq != c.dlq {
		before := c.dlq
		c.dlq = dlq
		if c.onDLQ != nil {
			c.onDLQ(dlq.snapshot(p.id))
		}
		// Resubmissions this checkpoint committed: their records go to their
		// operators now, before the next trigger, so they run before its barrier.
		if c.ctl != nil {
			c.ctl.at.inject(dlq.newlyResubmitting(before))
		}
	}
	c.log.Debug("checkpoint complete", "checkpoint", p.id)
	// The checkpoint is complete: from here on a restart restores it and its
	// committables are committed by Recover, so a commit failure fails the attempt
	// rather than the checkpoint.
	for _, n := range c.job.Sinks {
		var cs [][]byte
		if s := m.Sinks[n.Name]; s != nil {
			cs = s.Committables
		}
		if err := n.Sink.Commit(ctx, p.id, cs); err != nil {
			return m, fmt.Errorf("sink %q: commit checkpoint %d: %w", n.Name, p.id, err)
		}
	}
	// NB: after the commit: an ACK promises the message's output is visible.
	if err := deliverAcks(ctx, c.job, c.store, c.splitNames, m, dlq); err != nil {
		return m, err
	}
	if p.id == c.finalID {
		c.done, c.finishedJob = true, m.Finished
	}
	collectGarbage(ctx, c.store, c.job.Checkpoint.Retain, c.log)
	if c.obs != nil {
		var bytes int64
		for _, o := range m.Operators {
			for _, h := range o.State {
				for _, f := range h.Files {
					bytes += f.Size
				}
			}
		}
		c.obs.Checkpoint(c.job.Name, p.id, c.now().Sub(p.started), bytes, p.alignment)
	}
	if c.onComplete != nil {
		c.onComplete(m)
	}
	// NB: after onComplete, so that a control request answered here sees its
	// checkpoint in the Execution's module history and progress.
	if c.ctl != nil {
		c.ctl.completed(p.id)
	}
	return m, nil
}

// stageDLQ writes the DLQ segment of checkpoint p, if it changes the DLQ, and
// returns the DLQ it commits (c.dlq itself when unchanged).
func (c *coordinator) stageDLQ(ctx context.Context, p *pendingCheckpoint) (*dlqLog, error) {
	dead := append(slices.Clone(c.carriedDead), p.dead...)
	actions := append(slices.Clone(c.carriedActions), p.actions...)
	if len(p.resubmitted) > 0 {
		actions = append(actions, DLQAction{Kind: DLQResubmitted, IDs: p.resubmitted, Checkpoint: p.id, TimeUnixMs: c.now().UnixMilli()})
	}
	if len(dead) == 0 && len(actions) == 0 && !c.dlq.rebase {
		return c.dlq, nil
	}
	next, seg, err := c.dlq.stage(p.id, c.now().UnixMilli(), dead, actions)
	if err != nil {
		return nil, err
	}
	if err := writeDLQSegment(ctx, c.store, seg); err != nil {
		return nil, fmt.Errorf("write dead-letter segment: %w", err)
	}
	return next, nil
}

// carryJournal keeps the journal segments of t's abandoned checkpoint for the
// next complete one.
func (c *coordinator) carryJournal(t taskID, segs ...JournalSegment) {
	if c.carriedJournals == nil {
		c.carriedJournals = map[taskID][]JournalSegment{}
	}
	c.carriedJournals[t] = append(c.carriedJournals[t], segs...)
}

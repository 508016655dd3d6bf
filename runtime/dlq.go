package runtime

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
)

// The dead-letter queue (DLQ) of a job lives in its snapshot store and is
// committed with its checkpoints: it is a log of segments, one written by each
// checkpoint that changed it, and every manifest lists the segments that make
// up the DLQ as of that checkpoint (Manifest.DLQ). A segment is written before
// the manifest that lists it, so the DLQ a checkpoint restores holds exactly
// the records dead-lettered before its barrier — the records after it are
// replayed, and dead-lettered again if they fail again. Records dead-lettered
// between two barriers travel with the subtask's acknowledgement of the second;
// when that checkpoint is abandoned they are carried into the next one, as
// sinks' committables are.
//
// The coordinator keeps the whole DLQ in memory (bounded by maxDeadLetters),
// folded from the segments at each restore, and publishes a read-only
// snapshot of it after each change for the API. When the log grows past
// maxDLQSegments, the next change writes one base segment with the whole
// state instead, and older segments are garbage-collected with the
// checkpoints that list them.

// DeadLetter is one record in a job's dead-letter queue, with where and why it
// failed.
type DeadLetter struct {
	// ID is unique in the job's DLQ; ids are assigned in the order the records
	// became durable.
	ID       int64  `json:"id"`
	Job      string `json:"job"`
	Operator string `json:"operator"`
	Subtask  int    `json:"subtask"`
	Module   string `json:"module,omitempty"` // the module that failed (its digest on a server)
	Error    string `json:"error"`
	// Tries is how often the record was run alone before it was dead-lettered
	// (1 + the policy's retries); Attempt counts deliveries: 1 for the first,
	// one more for each resubmission.
	Tries      int    `json:"tries"`
	Attempt    int    `json:"attempt"`
	Position   string `json:"position,omitempty"` // source split and record number, if known
	TrackingID uint64 `json:"trackingId"`
	Key        []byte `json:"key,omitempty"`
	Value      []byte `json:"value,omitempty"`
	Headers    []byte `json:"headers,omitempty"`
	Timestamp  int64  `json:"timestamp"`
	TimeUnixMs int64  `json:"timeUnixMs"` // when it was dead-lettered
	// Checkpoint is the checkpoint that made the entry durable.
	Checkpoint int64 `json:"checkpoint"`
	// Edited says the value was replaced through the API.
	Edited bool `json:"edited,omitempty"`
	// Resubmitting says a resubmission is committed and the record is being
	// re-injected; the entry leaves the DLQ with the next checkpoint.
	Resubmitting bool `json:"resubmitting,omitempty"`
}

// DLQAction is one entry of a DLQ's audit trail: a change and the checkpoint
// that committed it.
type DLQAction struct {
	Kind       string  `json:"kind"` // one of the DLQ* kinds below
	IDs        []int64 `json:"ids"`
	Checkpoint int64   `json:"checkpoint"`
	TimeUnixMs int64   `json:"timeUnixMs"`
	// Value is the new value of an edit.
	Value []byte `json:"value,omitempty"`
	// Note is free text given with the request (who, why).
	Note string `json:"note,omitempty"`
}

// Kinds of DLQAction.
const (
	DLQAdded       = "dead-letter" // records failed and were dead-lettered
	DLQEdit        = "edit"        // a record's value was replaced
	DLQDrop        = "drop"        // records were removed for good
	DLQResubmit    = "resubmit"    // records were handed back to their operator
	DLQResubmitted = "resubmitted" // the resubmitted records ran before this checkpoint's barrier
)

// DLQRef is the part of a manifest that names the DLQ's segments.
type DLQRef struct {
	Segments []string `json:"segments"`
	NextID   int64    `json:"nextId"`
}

// DLQSnapshot is a read-only view of a job's DLQ as of one checkpoint. Its
// entries and their slices must not be modified.
type DLQSnapshot struct {
	Checkpoint int64
	Entries    []*DeadLetter // by ID
	Audit      []DLQAction   // oldest first, the newest maxDLQAudit
}

// Get returns the entry with id, if there is one.
func (s *DLQSnapshot) Get(id int64) (*DeadLetter, bool) {
	if s == nil {
		return nil, false
	}
	i, ok := slices.BinarySearchFunc(s.Entries, id, func(d *DeadLetter, id int64) int { return cmp.Compare(d.ID, id) })
	if !ok {
		return nil, false
	}
	return s.Entries[i], true
}

// Limits of the DLQ.
const (
	// maxDeadLetters bounds the entries of a job's DLQ: a checkpoint that would
	// hold more fails, and with it (after maxCheckpointFailures) the job.
	maxDeadLetters = 100_000
	// maxDLQSegments is how long the segment log grows before a base segment
	// replaces it.
	maxDLQSegments = 32
	// maxDLQAudit is how many audit records a base segment keeps.
	maxDLQAudit = 10_000
	// maxDLQSegmentBytes bounds what reading one segment may allocate.
	maxDLQSegmentBytes = 1 << 30
	dlqSegmentFormat   = 1
	dlqPrefix          = "dlq/"
)

// dlqSegment is one object of the DLQ log.
type dlqSegment struct {
	Format     int   `json:"format"`
	Checkpoint int64 `json:"checkpoint"`
	// Base segments hold the whole DLQ and replace every segment before them.
	Base    bool          `json:"base,omitempty"`
	Entries []*DeadLetter `json:"entries,omitempty"` // added (for a base: all)
	Actions []DLQAction   `json:"actions,omitempty"` // applied after Entries are added
}

func dlqSegmentObject(checkpoint int64) string {
	return fmt.Sprintf("%s%020d", dlqPrefix, checkpoint)
}

// dlqLog is the coordinator's DLQ: the folded state and the segments it came
// from. It is replaced, not modified, when a checkpoint changes it.
type dlqLog struct {
	segments []string
	nextID   int64
	entries  map[int64]*DeadLetter
	audit    []DLQAction
}

func newDLQLog() *dlqLog { return &dlqLog{nextID: 1, entries: map[int64]*DeadLetter{}} }

// loadDLQ folds the DLQ that manifest m (nil: a fresh start) refers to.
func loadDLQ(ctx context.Context, store SnapshotStore, m *Manifest) (*dlqLog, error) {
	l := newDLQLog()
	if m == nil || m.DLQ == nil {
		return l, nil
	}
	l.segments, l.nextID = slices.Clone(m.DLQ.Segments), m.DLQ.NextID
	for _, name := range m.DLQ.Segments {
		seg, err := readDLQSegment(ctx, store, name)
		if err != nil {
			return nil, fmt.Errorf("dead-letter queue of checkpoint %d: %w", m.Checkpoint, err)
		}
		l.apply(seg)
	}
	return l, nil
}

func readDLQSegment(ctx context.Context, store SnapshotStore, name string) (*dlqSegment, error) {
	rc, err := store.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptSnapshot, name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxDLQSegmentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxDLQSegmentBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxDLQSegmentBytes)
	}
	var seg dlqSegment
	if err := decodeChecked(data, &seg, name); err != nil {
		return nil, err
	}
	if seg.Format != dlqSegmentFormat {
		return nil, fmt.Errorf("%s: DLQ segment format %d is not supported (this build reads %d)", name, seg.Format, dlqSegmentFormat)
	}
	return &seg, nil
}

// apply folds seg into l (in place: only on a log not yet published).
func (l *dlqLog) apply(seg *dlqSegment) {
	if seg.Base {
		clear(l.entries)
		l.audit = nil
	}
	for _, d := range seg.Entries {
		l.entries[d.ID] = d
	}
	for _, a := range seg.Actions {
		for _, id := range a.IDs {
			d, ok := l.entries[id]
			if !ok {
				continue
			}
			switch a.Kind {
			case DLQEdit:
				c := *d
				c.Value, c.Edited = a.Value, true
				l.entries[id] = &c
			case DLQResubmit:
				c := *d
				c.Resubmitting = true
				l.entries[id] = &c
			case DLQDrop, DLQResubmitted:
				delete(l.entries, id)
			}
		}
		l.audit = append(l.audit, a)
	}
	if n := len(l.audit) - maxDLQAudit; n > 0 {
		l.audit = slices.Clone(l.audit[n:])
	}
}

// stage makes the log that checkpoint id commits when it adds dead and applies
// actions, and the segment to write for it (a base segment when the log is long).
func (l *dlqLog) stage(id, nowUnixMs int64, dead []DeadLetter, actions []DLQAction) (*dlqLog, *dlqSegment, error) {
	next := &dlqLog{nextID: l.nextID, entries: make(map[int64]*DeadLetter, len(l.entries)+len(dead)), audit: slices.Clone(l.audit)}
	for k, v := range l.entries {
		next.entries[k] = v
	}
	for i := range actions {
		actions[i].Checkpoint = id // carried ones were requested for an abandoned checkpoint
	}
	seg := &dlqSegment{Format: dlqSegmentFormat, Checkpoint: id, Actions: actions}
	if len(dead) > 0 {
		// Acknowledgements arrive in any order; sort for a deterministic id order.
		sort.SliceStable(dead, func(i, j int) bool {
			a, b := &dead[i], &dead[j]
			return a.Operator < b.Operator || a.Operator == b.Operator && a.Subtask < b.Subtask
		})
		added := DLQAction{Kind: DLQAdded, Checkpoint: id, TimeUnixMs: nowUnixMs}
		for i := range dead {
			d := dead[i]
			d.ID, d.Checkpoint = next.nextID, id
			next.nextID++
			seg.Entries = append(seg.Entries, &d)
			added.IDs = append(added.IDs, d.ID)
		}
		seg.Actions = append([]DLQAction{added}, seg.Actions...)
	}
	next.apply(seg)
	if len(next.entries) > maxDeadLetters {
		return nil, nil, fmt.Errorf("the dead-letter queue would hold %d records (at most %d): drop or resubmit some", len(next.entries), maxDeadLetters)
	}
	next.segments = append(slices.Clone(l.segments), dlqSegmentObject(id))
	if len(next.segments) > maxDLQSegments {
		seg = &dlqSegment{Format: dlqSegmentFormat, Checkpoint: id, Base: true, Entries: next.sorted(), Actions: next.audit}
		next.segments = []string{dlqSegmentObject(id)}
	}
	return next, seg, nil
}

// write stores seg as checkpoint id's segment.
func writeDLQSegment(ctx context.Context, store SnapshotStore, seg *dlqSegment) error {
	data, err := encodeChecked(seg)
	if err != nil {
		return err
	}
	return store.Put(ctx, dlqSegmentObject(seg.Checkpoint), bytes.NewReader(data))
}

func (l *dlqLog) sorted() []*DeadLetter {
	out := make([]*DeadLetter, 0, len(l.entries))
	for _, d := range l.entries {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *DeadLetter) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// ref is what a manifest records of l; nil for a DLQ that never held anything.
func (l *dlqLog) ref() *DLQRef {
	if len(l.segments) == 0 {
		return nil
	}
	return &DLQRef{Segments: slices.Clone(l.segments), NextID: l.nextID}
}

func (l *dlqLog) snapshot(checkpoint int64) *DLQSnapshot {
	return &DLQSnapshot{Checkpoint: checkpoint, Entries: l.sorted(), Audit: slices.Clone(l.audit)}
}

// ReadDLQ returns the DLQ of the newest complete checkpoint in store (an empty
// one when the store holds no checkpoint): for a job that is not running.
func ReadDLQ(ctx context.Context, store SnapshotStore) (*DLQSnapshot, error) {
	m, err := LatestCheckpoint(ctx, store)
	if err != nil {
		if errors.Is(err, errNoCheckpoint) {
			return &DLQSnapshot{}, nil
		}
		return nil, err
	}
	l, err := loadDLQ(ctx, store, m)
	if err != nil {
		return nil, err
	}
	return l.snapshot(m.Checkpoint), nil
}

// DeadLetters returns the job's DLQ as of its newest complete checkpoint (or
// the start of the current attempt); nil before the first attempt started.
func (x *Execution) DeadLetters() *DLQSnapshot {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.dlq
}

// DLQRequest is a change of a running job's DLQ: Kind is DLQEdit (one id,
// Value the new value), DLQDrop or DLQResubmit.
type DLQRequest struct {
	Kind  string
	IDs   []int64
	Value []byte
	Note  string // recorded in the audit trail
}

// ErrDLQRequest is wrapped by the errors of a DLQRequest that the DLQ refuses
// (an unknown id, an entry being resubmitted).
var ErrDLQRequest = errors.New("refused by the dead-letter queue")

// maxDLQRequestIDs bounds the ids of one request.
const maxDLQRequestIDs = maxDeadLetters

// ChangeDLQ applies req with the next checkpoint and waits until it is
// complete; it returns that checkpoint. A resubmission's records run in
// their operators right after it, and their entries leave the DLQ with the
// checkpoint after that (or, if one of them fails again, come back as a new
// entry with the next attempt number).
func (x *Execution) ChangeDLQ(ctx context.Context, req DLQRequest) (int64, error) {
	switch req.Kind {
	case DLQEdit:
		if len(req.IDs) != 1 {
			return 0, fmt.Errorf("%w: an edit changes one entry (got %d ids)", ErrDLQRequest, len(req.IDs))
		}
	case DLQDrop, DLQResubmit:
		if len(req.IDs) == 0 {
			return 0, fmt.Errorf("%w: no entry to %s", ErrDLQRequest, req.Kind)
		}
	default:
		return 0, fmt.Errorf("%w: unknown change %q", ErrDLQRequest, req.Kind)
	}
	if len(req.IDs) > maxDLQRequestIDs {
		return 0, fmt.Errorf("%w: %d ids (at most %d)", ErrDLQRequest, len(req.IDs), maxDLQRequestIDs)
	}
	return x.control(ctx, &controlReq{dlq: &req})
}

// check reports whether l can apply req now.
func (l *dlqLog) check(req *DLQRequest, job *Job) error {
	for _, id := range req.IDs {
		d, ok := l.entries[id]
		if !ok {
			return fmt.Errorf("%w: no entry %d", ErrDLQRequest, id)
		}
		if d.Resubmitting {
			return fmt.Errorf("%w: entry %d is being resubmitted", ErrDLQRequest, id)
		}
		if req.Kind == DLQResubmit && !slices.ContainsFunc(job.Operators, func(n *OperatorNode) bool { return n.Name == d.Operator }) {
			return fmt.Errorf("%w: entry %d failed in operator %q, which the job no longer has", ErrDLQRequest, id, d.Operator)
		}
	}
	return nil
}

// resubmitting returns the ids of the entries being resubmitted.
func (l *dlqLog) resubmitting() []int64 {
	var out []int64
	for id, d := range l.entries {
		if d.Resubmitting {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// newlyResubmitting returns the entries being resubmitted in l but not in
// before (nil: all of l's).
func (l *dlqLog) newlyResubmitting(before *dlqLog) []*DeadLetter {
	var out []*DeadLetter
	for _, id := range l.resubmitting() {
		if before != nil {
			if d, ok := before.entries[id]; ok && d.Resubmitting {
				continue
			}
		}
		out = append(out, l.entries[id])
	}
	return out
}

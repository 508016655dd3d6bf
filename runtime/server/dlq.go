package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	"github.com/weirstream/weir/runtime"
	weirv1 "github.com/weirstream/weir/runtime/api/weirv1"
)

// dlqService serves DLQService: listings read the DLQ snapshot the running
// execution publishes (or, for a job that is not running, the newest
// checkpoint's); changes go through runtime.Execution.ChangeDLQ.
type dlqService struct{ s *Server }

// maxDLQNoteBytes bounds the note of a change.
const maxDLQNoteBytes = 1024

// dlqOf returns job's DLQ as of its newest complete checkpoint.
func (s *Server) dlqOf(ctx context.Context, id string) (*jobRun, *runtime.DLQSnapshot, error) {
	j, err := s.job(id)
	if err != nil {
		return nil, nil, err
	}
	j.mu.Lock()
	x, running, ended, cached := j.x, j.rec.State == stateRunning, j.rec.ended(), j.endedDLQ
	j.mu.Unlock()
	if x != nil && running {
		if snap := x.DeadLetters(); snap != nil {
			return j, snap, nil
		}
	}
	if ended && cached != nil {
		return j, cached, nil
	}
	store, err := s.storeOf(j)
	if err != nil {
		return nil, nil, err
	}
	snap, err := runtime.ReadDLQ(ctx, store)
	if err != nil {
		return nil, nil, fmt.Errorf("read the dead-letter queue of job %s: %w", id, err)
	}
	if ended {
		// NB: a page of a large DLQ must not read and decode it again.
		j.mu.Lock()
		j.endedDLQ = snap
		j.mu.Unlock()
	}
	return j, snap, nil
}

// matches reports whether d passes f (nil: every entry does).
func matches(d *runtime.DeadLetter, f *weirv1.DeadLetterFilter) bool {
	if f == nil {
		return true
	}
	if f.Operator != "" && d.Operator != f.Operator {
		return false
	}
	if f.ErrorContains != "" && !strings.Contains(d.Error, f.ErrorContains) {
		return false
	}
	if f.KeyContains != "" && !bytes.Contains(d.Key, []byte(f.KeyContains)) {
		return false
	}
	if t := f.Text; t != "" && !strings.Contains(d.Error, t) && !bytes.Contains(d.Key, []byte(t)) && !bytes.Contains(d.Value, []byte(t)) {
		return false
	}
	return true
}

func deadLetterMsg(d *runtime.DeadLetter, values bool) *weirv1.DeadLetter {
	m := &weirv1.DeadLetter{
		Id: d.ID, Job: d.Job, Operator: d.Operator, Subtask: int32(d.Subtask), Module: d.Module, Error: d.Error,
		Tries: int32(d.Tries), Attempt: int32(d.Attempt), Position: d.Position, TrackingId: d.TrackingID,
		Timestamp: d.Timestamp, TimeUnixMs: d.TimeUnixMs, Checkpoint: d.Checkpoint, Edited: d.Edited, Resubmitting: d.Resubmitting,
	}
	if values {
		m.Key, m.Value, m.Headers = d.Key, d.Value, d.Headers
	}
	return m
}

func (ds *dlqService) List(ctx context.Context, req *connect.Request[weirv1.ListDeadLettersRequest]) (*connect.Response[weirv1.ListDeadLettersResponse], error) {
	size, err := pageSize(req.Msg.PageSize)
	if err != nil {
		return nil, err
	}
	after := int64(0)
	if t := req.Msg.PageToken; t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n < 0 {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("page_token: %q is not a token this server gave out", t))
		}
		after = n
	}
	_, snap, err := ds.s.dlqOf(ctx, req.Msg.Job)
	if err != nil {
		return nil, connectErr(err)
	}
	out := &weirv1.ListDeadLettersResponse{Checkpoint: snap.Checkpoint}
	// Entries are sorted by id: a page starts after the token's id.
	start := sort.Search(len(snap.Entries), func(i int) bool { return snap.Entries[i].ID > after })
	for _, d := range snap.Entries[start:] {
		if !matches(d, req.Msg.Filter) {
			continue
		}
		out.Matching++
		if len(out.Entries) < size {
			out.Entries = append(out.Entries, deadLetterMsg(d, !req.Msg.OmitValues))
		} else if out.NextPageToken == "" {
			out.NextPageToken = strconv.FormatInt(out.Entries[len(out.Entries)-1].Id, 10)
		}
	}
	// NB: matching counts from the token on; add the pages before it.
	for _, d := range snap.Entries[:start] {
		if matches(d, req.Msg.Filter) {
			out.Matching++
		}
	}
	return connect.NewResponse(out), nil
}

func (ds *dlqService) Get(ctx context.Context, req *connect.Request[weirv1.GetDeadLetterRequest]) (*connect.Response[weirv1.DeadLetter], error) {
	_, snap, err := ds.s.dlqOf(ctx, req.Msg.Job)
	if err != nil {
		return nil, connectErr(err)
	}
	d, ok := snap.Get(req.Msg.Id)
	if !ok {
		return nil, connectErr(notFound{fmt.Errorf("job %s has no dead letter %d", req.Msg.Job, req.Msg.Id)})
	}
	return connect.NewResponse(deadLetterMsg(d, true)), nil
}

func (ds *dlqService) Edit(ctx context.Context, req *connect.Request[weirv1.EditDeadLetterRequest]) (*connect.Response[weirv1.ChangeDeadLettersResponse], error) {
	return ds.change(ctx, req.Msg.Job, runtime.DLQEdit, []int64{req.Msg.Id}, nil, false, req.Msg.Value, req.Msg.Note)
}

func (ds *dlqService) Resubmit(ctx context.Context, req *connect.Request[weirv1.ResubmitDeadLettersRequest]) (*connect.Response[weirv1.ChangeDeadLettersResponse], error) {
	m := req.Msg
	return ds.change(ctx, m.Job, runtime.DLQResubmit, m.Ids, m.Filter, m.All, nil, m.Note)
}

func (ds *dlqService) Drop(ctx context.Context, req *connect.Request[weirv1.DropDeadLettersRequest]) (*connect.Response[weirv1.ChangeDeadLettersResponse], error) {
	m := req.Msg
	return ds.change(ctx, m.Job, runtime.DLQDrop, m.Ids, m.Filter, m.All, nil, m.Note)
}

// change applies one change to the entries ids, or to those that match filter
// (all: every entry), of the job's running execution.
func (ds *dlqService) change(ctx context.Context, job, kind string, ids []int64, filter *weirv1.DeadLetterFilter, all bool, value []byte, note string) (*connect.Response[weirv1.ChangeDeadLettersResponse], error) {
	if len(note) > maxDLQNoteBytes {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("note: %d bytes (at most %d)", len(note), maxDLQNoteBytes))
	}
	bySelector := all || filter != nil
	if bySelector == (len(ids) > 0) {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("give either ids, or a filter or all"))
	}
	j, snap, err := ds.s.dlqOf(ctx, job)
	if err != nil {
		return nil, connectErr(err)
	}
	if bySelector {
		for _, d := range snap.Entries {
			if !d.Resubmitting && matches(d, filter) {
				ids = append(ids, d.ID)
			}
		}
		if len(ids) == 0 {
			return connect.NewResponse(&weirv1.ChangeDeadLettersResponse{Checkpoint: snap.Checkpoint}), nil
		}
	} else {
		for _, id := range ids {
			if _, ok := snap.Get(id); !ok {
				return nil, connectErr(notFound{fmt.Errorf("job %s has no dead letter %d", job, id)})
			}
		}
	}
	x, _, err := j.running()
	if err != nil {
		return nil, connectErr(fmt.Errorf("the dead-letter queue changes with a checkpoint of the running job: %w", err))
	}
	id, err := x.ChangeDLQ(ctx, runtime.DLQRequest{Kind: kind, IDs: ids, Value: value, Note: note})
	switch {
	case errors.Is(err, runtime.ErrDLQRequest):
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	case err != nil:
		return nil, connectErr(fmt.Errorf("%w: %v", errPrecondition, err))
	}
	ds.s.log.Info("dead-letter queue changed", "job", job, "change", kind, "entries", len(ids), "checkpoint", id)
	return connect.NewResponse(&weirv1.ChangeDeadLettersResponse{Checkpoint: id, Ids: ids}), nil
}

func (ds *dlqService) ListAudit(ctx context.Context, req *connect.Request[weirv1.ListDLQAuditRequest]) (*connect.Response[weirv1.ListDLQAuditResponse], error) {
	_, snap, err := ds.s.dlqOf(ctx, req.Msg.Job)
	if err != nil {
		return nil, connectErr(err)
	}
	out := &weirv1.ListDLQAuditResponse{}
	for _, a := range snap.Audit {
		out.Records = append(out.Records, &weirv1.DLQAuditRecord{Kind: a.Kind, Ids: a.IDs, Checkpoint: a.Checkpoint, TimeUnixMs: a.TimeUnixMs, Note: a.Note})
	}
	return connect.NewResponse(out), nil
}

package server

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	"github.com/weirstream/weir/runtime"
	weirv1 "github.com/weirstream/weir/runtime/api/weirv1"
)

// Shadows (runtime/shadow.go, docs/rollouts.md). A shadow lives in the job's
// execution in this process: it is not in the job's record, so a restart of
// the server ends it (the job resumes without it).

// StartShadow runs module ref as the shadow of operator in job j.
func (s *Server) StartShadow(ctx context.Context, j *jobRun, operator, ref string) (runtime.ShadowStatus, error) {
	j.op.Lock()
	defer j.op.Unlock()
	x, job, err := j.running()
	if err != nil {
		return runtime.ShadowStatus{}, err
	}
	digest, f, err := s.newModuleFor(ctx, j, job, operator, ref)
	if err != nil {
		return runtime.ShadowStatus{}, err
	}
	if _, err := x.StartShadow(ctx, runtime.ShadowRequest{Operator: operator, Module: digest, Factory: f}); err != nil {
		return runtime.ShadowStatus{}, fmt.Errorf("%w: %v", errPrecondition, err)
	}
	s.log.Info("shadow started", "job", j.rec.ID, "operator", operator, "module", digest)
	return shadowOf(x, operator), nil
}

// StopShadow drops the shadow of operator in job j.
func (s *Server) StopShadow(ctx context.Context, j *jobRun, operator string) (runtime.ShadowStatus, error) {
	j.op.Lock()
	defer j.op.Unlock()
	x, _, err := j.running()
	if err != nil {
		return runtime.ShadowStatus{}, err
	}
	st, err := x.StopShadow(ctx, operator)
	switch {
	case errors.Is(err, runtime.ErrNoShadow):
		return st, notFound{fmt.Errorf("job %s: %w", j.rec.ID, err)}
	case err != nil:
		return st, fmt.Errorf("%w: %v", errPrecondition, err)
	}
	s.log.Info("shadow stopped", "job", j.rec.ID, "operator", operator, "module", st.Module, "matched", st.Matched, "mismatched", st.Mismatched, "failed", st.Failed)
	return st, nil
}

// Promote swaps operator's module to its shadow's and drops the shadow, both
// at one barrier; or, with no shadow, to its canary's, which ends the canary.
// A refused swap leaves the shadow or canary running.
func (s *Server) Promote(ctx context.Context, j *jobRun, operator string, migrate bool) (int64, string, error) {
	j.op.Lock()
	defer j.op.Unlock()
	x, _, err := j.running()
	if err != nil {
		return 0, "", err
	}
	st := shadowOf(x, operator)
	if st.Module != "" {
		return s.swap(ctx, j, operator, st.Module, migrate, true)
	}
	if c := canaryOf(x, operator); c != nil {
		// The swap ends the canary at its barrier (runtime/canary.go).
		return s.swap(ctx, j, operator, c.Module, migrate, false)
	}
	return 0, "", notFound{fmt.Errorf("job %s: operator %q runs neither a shadow nor a canary: start one with weir job shadow or weir job canary", j.rec.ID, short(operator))}
}

// shadowOf returns the status of operator's shadow (zero: none).
func shadowOf(x *runtime.Execution, operator string) runtime.ShadowStatus {
	for _, st := range x.Shadows() {
		if st.Operator == operator {
			return st
		}
	}
	return runtime.ShadowStatus{}
}

// Shadows returns the shadows of every job that runs one, by job id.
func (s *Server) Shadows() map[string][]runtime.ShadowStatus {
	out := map[string][]runtime.ShadowStatus{}
	for _, j := range s.list() {
		j.mu.Lock()
		x, id := j.x, j.rec.ID
		j.mu.Unlock()
		if x != nil {
			if sh := x.Shadows(); len(sh) > 0 {
				out[id] = sh
			}
		}
	}
	return out
}

func shadowMsg(st runtime.ShadowStatus) *weirv1.Shadow {
	m := &weirv1.Shadow{Operator: st.Operator, Module: st.Module, StartedUnixMs: st.StartedUnixMs, Records: st.Records, Matched: st.Matched,
		Mismatched: st.Mismatched, Failed: st.Failed, Suspended: int32(st.Suspended), LastError: st.LastError, FromCheckpoint: st.FromCheckpoint}
	recs := func(rs []runtime.ShadowRecord) []*weirv1.ShadowRecord {
		var out []*weirv1.ShadowRecord
		for _, r := range rs {
			out = append(out, &weirv1.ShadowRecord{Port: int32(r.Port), Key: r.Key, Value: r.Value})
		}
		return out
	}
	for _, d := range st.Diffs {
		m.Diffs = append(m.Diffs, &weirv1.ShadowDiff{Subtask: int32(d.Subtask), TrackingId: d.TrackingID, Position: d.Position, Key: d.Key, Input: d.Input,
			Live: recs(d.Live), Shadow: recs(d.Shadow), Error: d.Error, TimeUnixMs: d.TimeUnixMs})
	}
	return m
}

func (js *jobService) StartShadow(ctx context.Context, req *connect.Request[weirv1.StartShadowRequest]) (*connect.Response[weirv1.Shadow], error) {
	j, err := js.s.job(req.Msg.Job)
	if err != nil {
		return nil, connectErr(err)
	}
	st, err := js.s.StartShadow(ctx, j, req.Msg.Operator, req.Msg.Module)
	if err != nil {
		return nil, connectErr(err)
	}
	return connect.NewResponse(shadowMsg(st)), nil
}

func (js *jobService) StopShadow(ctx context.Context, req *connect.Request[weirv1.StopShadowRequest]) (*connect.Response[weirv1.Shadow], error) {
	j, err := js.s.job(req.Msg.Job)
	if err != nil {
		return nil, connectErr(err)
	}
	st, err := js.s.StopShadow(ctx, j, req.Msg.Operator)
	if err != nil {
		return nil, connectErr(err)
	}
	return connect.NewResponse(shadowMsg(st)), nil
}

func (js *jobService) Promote(ctx context.Context, req *connect.Request[weirv1.PromoteRequest]) (*connect.Response[weirv1.SwapModuleResponse], error) {
	j, err := js.s.job(req.Msg.Job)
	if err != nil {
		return nil, connectErr(err)
	}
	id, digest, err := js.s.Promote(ctx, j, req.Msg.Operator, req.Msg.Migrate)
	if err != nil {
		return nil, connectErr(err)
	}
	return connect.NewResponse(&weirv1.SwapModuleResponse{Checkpoint: id, Module: digest, Job: js.s.jobMsg(ctx, j)}), nil
}

package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect"

	"github.com/weirstream/weir/runtime"
	weirv1 "github.com/weirstream/weir/runtime/api/weirv1"
)

// Canaries (runtime/canary.go, docs/rollouts.md). Unlike a shadow, a canary
// is in the job's checkpoints (its module history): a restart of the server
// or of the job restores it, so its module is one the job uses and is kept.

// StartCanary runs module ref on a share of operator's key groups in job j:
// percent of them, or the key groups listed.
func (s *Server) StartCanary(ctx context.Context, j *jobRun, operator, ref string, percent float64, groups []int) (int64, runtime.Canary, error) {
	j.op.Lock()
	defer j.op.Unlock()
	x, job, err := j.running()
	if err != nil {
		return 0, runtime.Canary{}, err
	}
	switch {
	case percent != 0 && len(groups) > 0:
		return 0, runtime.Canary{}, &validationError{errors.New("canary: give a percent or key groups, not both")}
	case len(groups) == 0:
		if groups, err = runtime.CanaryKeyGroups(percent, job.MaxParallelism); err != nil {
			return 0, runtime.Canary{}, &validationError{err}
		}
	}
	digest, f, err := s.newModuleFor(ctx, j, job, operator, ref)
	if err != nil {
		return 0, runtime.Canary{}, err
	}
	// NB: a crash after the canary's checkpoint restores it: keep its module.
	if err := s.uses(ctx, j, digest); err != nil {
		return 0, runtime.Canary{}, err
	}
	id, err := x.StartCanary(ctx, runtime.CanaryRequest{Operator: operator, Module: digest, Factory: f, KeyGroups: groups})
	if err != nil {
		if strings.Contains(err.Error(), "refused") {
			return 0, runtime.Canary{}, &validationError{err}
		}
		return 0, runtime.Canary{}, fmt.Errorf("%w: %v", errPrecondition, err)
	}
	s.log.Info("canary started", "job", j.rec.ID, "operator", operator, "module", digest, "keyGroups", len(groups), "checkpoint", id)
	slices.Sort(groups)
	return id, runtime.Canary{Operator: operator, LiveModule: liveModule(x, operator), Module: digest, KeyGroups: slices.Compact(groups), FromCheckpoint: id}, nil
}

// RollbackCanary ends operator's canary in job j: the live module runs every
// key group again from the returned checkpoint's barrier on.
func (s *Server) RollbackCanary(ctx context.Context, j *jobRun, operator string) (int64, error) {
	j.op.Lock()
	defer j.op.Unlock()
	x, _, err := j.running()
	if err != nil {
		return 0, err
	}
	id, err := x.RollbackCanary(ctx, operator)
	switch {
	case errors.Is(err, runtime.ErrNoCanary):
		return 0, notFound{fmt.Errorf("job %s: %w", j.rec.ID, err)}
	case err != nil:
		return 0, fmt.Errorf("%w: %v", errPrecondition, err)
	}
	s.log.Info("canary rolled back", "job", j.rec.ID, "operator", operator, "checkpoint", id)
	return id, nil
}

// canaryOf returns operator's canary in x (nil: none).
func canaryOf(x *runtime.Execution, operator string) *runtime.Canary {
	for _, c := range x.Canaries() {
		if c.Operator == operator {
			return &c
		}
	}
	return nil
}

func liveModule(x *runtime.Execution, operator string) string {
	live := ""
	for _, c := range x.ModuleHistory() {
		if c.Operator == operator {
			live = c.Module
		}
	}
	return live
}

func canaryMsg(c runtime.Canary, maxParallelism int) *weirv1.Canary {
	m := &weirv1.Canary{Operator: c.Operator, LiveModule: c.LiveModule, Module: c.Module, MaxParallelism: int32(maxParallelism), FromCheckpoint: c.FromCheckpoint}
	for _, g := range c.KeyGroups {
		m.KeyGroups = append(m.KeyGroups, int32(g))
	}
	return m
}

func (js *jobService) StartCanary(ctx context.Context, req *connect.Request[weirv1.StartCanaryRequest]) (*connect.Response[weirv1.CanaryResponse], error) {
	j, err := js.s.job(req.Msg.Job)
	if err != nil {
		return nil, connectErr(err)
	}
	var groups []int
	for _, g := range req.Msg.KeyGroups {
		groups = append(groups, int(g))
	}
	id, c, err := js.s.StartCanary(ctx, j, req.Msg.Operator, req.Msg.Module, req.Msg.Percent, groups)
	if err != nil {
		return nil, connectErr(err)
	}
	msg := js.s.jobMsg(ctx, j)
	return connect.NewResponse(&weirv1.CanaryResponse{Checkpoint: id, Canary: canaryMsg(c, maxParallelismOf(j)), Job: msg}), nil
}

func (js *jobService) RollbackCanary(ctx context.Context, req *connect.Request[weirv1.RollbackCanaryRequest]) (*connect.Response[weirv1.CanaryResponse], error) {
	j, err := js.s.job(req.Msg.Job)
	if err != nil {
		return nil, connectErr(err)
	}
	id, err := js.s.RollbackCanary(ctx, j, req.Msg.Operator)
	if err != nil {
		return nil, connectErr(err)
	}
	return connect.NewResponse(&weirv1.CanaryResponse{Checkpoint: id, Job: js.s.jobMsg(ctx, j)}), nil
}

func maxParallelismOf(j *jobRun) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.job == nil {
		return 0
	}
	return j.job.MaxParallelism
}

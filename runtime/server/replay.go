package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"connectrpc.com/connect"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
	weirv1 "github.com/weirstream/weir/runtime/api/weirv1"
)

// Replay (runtime/journal.go, docs/rollouts.md#replay): an operator re-run
// offline, in this process, from a retained checkpoint of a job's store. It
// reads the store and never writes it, so it may run beside the job.

// replayChunk is how many records (or diffs) one ReplayEvent carries.
const replayChunk = 1000

// Replay re-runs operator of job j from checkpoint from; with ref, it runs
// that module and sends the differences from the job's own output instead of
// the output.
func (s *Server) Replay(ctx context.Context, j *jobRun, operator string, from int64, ref string, send func(*weirv1.ReplayEvent) error) error {
	j.mu.Lock()
	rec := j.rec
	j.mu.Unlock()
	job, _, err := s.build(ctx, &rec, false)
	if err != nil {
		return err
	}
	store, err := s.storeOf(j)
	if err != nil {
		return err
	}
	var digest string
	var factory runtime.OperatorFactory
	if ref != "" {
		if digest, factory, err = s.newModuleFor(ctx, j, job, operator, ref); err != nil {
			return err
		}
	}
	work, err := os.MkdirTemp(s.jobDir(rec.ID), "replay-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	run := func(f runtime.OperatorFactory, dir string, out func(runtime.ReplayOutput) error) (runtime.ReplayStats, error) {
		cfg := runtime.ReplayConfig{Store: store, State: s.cfg.State, WorkDir: filepath.Join(work, dir), Modules: resolver{s, j}, Logger: s.log.With("job", rec.ID, "replay", operator)}
		st, err := runtime.Replay(ctx, job, cfg, runtime.ReplayRequest{Operator: operator, From: from, Factory: f}, out)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return st, err
			}
			return st, fmt.Errorf("%w: %v", errPrecondition, err)
		}
		return st, nil
	}
	summary := func(st runtime.ReplayStats) *weirv1.ReplaySummary {
		return &weirv1.ReplaySummary{FromCheckpoint: st.From, ToCheckpoint: st.To, InputBatches: st.Batches, InputRecords: st.Records, Emitted: st.Emitted, Module: digest}
	}
	if factory == nil {
		var chunk []*weirv1.ReplayRecord
		st, err := run(nil, "job", func(o runtime.ReplayOutput) error {
			chunk = appendReplayRecords(chunk, o)
			if len(chunk) >= replayChunk {
				err := send(&weirv1.ReplayEvent{Records: chunk})
				chunk = nil
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
		return send(&weirv1.ReplayEvent{Records: chunk, Summary: summary(st)})
	}

	// A diff: both outputs, grouped by the input record they derive from.
	recorded, replayed := map[replayGroup][]*weirv1.ReplayRecord{}, map[replayGroup][]*weirv1.ReplayRecord{}
	group := func(into map[replayGroup][]*weirv1.ReplayRecord) func(runtime.ReplayOutput) error {
		return func(o runtime.ReplayOutput) error {
			for _, r := range appendReplayRecords(nil, o) {
				g := replayGroup{r.Checkpoint, r.Subtask, r.TrackingId}
				into[g] = append(into[g], r)
			}
			return nil
		}
	}
	if _, err := run(nil, "job", group(recorded)); err != nil {
		return err
	}
	st, err := run(factory, "module", group(replayed))
	if err != nil {
		return err
	}
	keys := make([]replayGroup, 0, len(recorded))
	for g := range recorded {
		keys = append(keys, g)
	}
	for g := range replayed {
		if _, ok := recorded[g]; !ok {
			keys = append(keys, g)
		}
	}
	slices.SortFunc(keys, func(a, b replayGroup) int {
		return cmp.Or(cmp.Compare(a.checkpoint, b.checkpoint), cmp.Compare(a.subtask, b.subtask), cmp.Compare(a.tracking, b.tracking))
	})
	sum := summary(st)
	var chunk []*weirv1.ReplayDiff
	for _, g := range keys {
		a, b := recorded[g], replayed[g]
		if slices.EqualFunc(a, b, sameReplayRecord) {
			sum.Matched++
			continue
		}
		sum.Mismatched++
		chunk = append(chunk, &weirv1.ReplayDiff{Checkpoint: g.checkpoint, Subtask: g.subtask, TrackingId: g.tracking, Recorded: a, Replayed: b})
		if len(chunk) >= replayChunk {
			if err := send(&weirv1.ReplayEvent{Diffs: chunk}); err != nil {
				return err
			}
			chunk = nil
		}
	}
	return send(&weirv1.ReplayEvent{Diffs: chunk, Summary: sum})
}

type replayGroup struct {
	checkpoint int64
	subtask    int32
	tracking   uint64
}

func appendReplayRecords(dst []*weirv1.ReplayRecord, o runtime.ReplayOutput) []*weirv1.ReplayRecord {
	r := abi.NewReader(o.Batch)
	for r.Next() {
		e := r.Entry()
		dst = append(dst, &weirv1.ReplayRecord{Checkpoint: o.Checkpoint, Subtask: int32(o.Subtask), Port: int32(o.Port),
			Key: slices.Clone(e.Key), Value: slices.Clone(e.Value), TrackingId: e.TrackingID})
	}
	return dst
}

func sameReplayRecord(a, b *weirv1.ReplayRecord) bool {
	return a.Port == b.Port && string(a.Key) == string(b.Key) && string(a.Value) == string(b.Value)
}

func (js *jobService) Replay(ctx context.Context, req *connect.Request[weirv1.ReplayRequest], stream *connect.ServerStream[weirv1.ReplayEvent]) error {
	j, err := js.s.job(req.Msg.Job)
	if err != nil {
		return connectErr(err)
	}
	if err := js.s.Replay(ctx, j, req.Msg.Operator, req.Msg.FromCheckpoint, req.Msg.Module, stream.Send); err != nil {
		return connectErr(err)
	}
	return nil
}

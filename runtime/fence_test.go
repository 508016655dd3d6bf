package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/coord"
	"github.com/weirstream/weir/runtime/memory"
)

// TestSimulationFenced runs the simulated job as the leader of one epoch
// (coord.Fence over a coord.Catalog on coord.MemKV), lets a second candidate
// take over at a random checkpoint completion, and checks the fencing rule of
// issue 9: the deposed leader's completion is refused (runtime.ErrFenced),
// its manifest is never written, no sink commits (nor recovers) from then
// on, and the job does not restart. The new leader then runs the job from
// the same store to the end and the committed output is exactly the
// expected one; the catalog's checkpoint ids only go up.
func TestSimulationFenced(t *testing.T) {
	fenced := 0
	for seed := int64(1); seed <= 40; seed++ {
		res, wasFenced, err := simulateFenced(seed)
		if err != nil {
			t.Errorf("seed %d: %v\nlast events:\n  %s", seed, err, strings.Join(tail(res.Events, 30), "\n  "))
		}
		if wasFenced {
			fenced++
		}
	}
	if fenced < 20 {
		t.Errorf("only %d of 40 runs were fenced before they finished: the test checks too little", fenced)
	}
}

// commitLog is a sink that records its commits and recoveries, and fails the
// test's check when one happens after its leader was deposed.
type commitLog struct {
	*memory.Sink
	mu      sync.Mutex
	deposed bool
	late    []string // commits and recoveries after deposed
	ids     []int64  // checkpoint ids committed
}

func (c *commitLog) Commit(ctx context.Context, id int64, cs [][]byte) error {
	c.mu.Lock()
	c.ids = append(c.ids, id)
	if c.deposed {
		c.late = append(c.late, fmt.Sprintf("commit %d", id))
	}
	c.mu.Unlock()
	return c.Sink.Commit(ctx, id, cs)
}

func (c *commitLog) Recover(ctx context.Context, id int64, cs [][]byte) error {
	c.mu.Lock()
	if c.deposed {
		c.late = append(c.late, fmt.Sprintf("recover %d", id))
	}
	c.mu.Unlock()
	return c.Sink.Recover(ctx, id, cs)
}

// deposingFence is coord.Fence, except that at its deposeAt-th admission a
// standby takes over first (and, when fenceJob, fences the job as a new
// leader does before it restores it).
type deposingFence struct {
	coord.Fence
	takeOver func() error
	deposeAt int
	admitted int
	refused  int64 // the checkpoint refused (0: none)
}

func (f *deposingFence) AdmitCheckpoint(ctx context.Context, job string, id int64) error {
	f.admitted++
	if f.admitted == f.deposeAt {
		if err := f.takeOver(); err != nil {
			return fmt.Errorf("test: take over: %w", err) // abandons the checkpoint: a failure the test reports
		}
	}
	err := f.Fence.AdmitCheckpoint(ctx, job, id)
	if errors.Is(err, runtime.ErrFenced) && f.refused == 0 {
		f.refused = id
	}
	return err
}

func simulateFenced(seed int64) (runtime.SimResult, bool, error) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(seed))
	kv := new(coord.MemKV)
	cat := coord.NewCatalog(kv)
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	a, _ := coord.NewElector(kv, coord.ElectionConfig{Candidate: "jm-a", Lease: time.Second, Now: clock})
	b, _ := coord.NewElector(kv, coord.ElectionConfig{Candidate: "jm-b", Lease: time.Second, Now: clock})
	if st, err := a.Tick(ctx); err != nil || !st.Self {
		return runtime.SimResult{}, false, fmt.Errorf("jm-a does not lead: %+v, %v", st, err)
	}
	if _, err := b.Tick(ctx); err != nil {
		return runtime.SimResult{}, false, err
	}
	epochA, _ := a.Leading()

	store := memory.NewStore()
	sink := &commitLog{Sink: memory.NewSink()}
	splits, want := simInput(rng)
	fenceJob := rng.Intn(2) == 0
	var epochB coord.Epoch
	fa := &deposingFence{Fence: coord.Fence{Catalog: cat, Epoch: epochA, Now: clock}, deposeAt: 1 + rng.Intn(6)}
	fa.takeOver = func() error {
		now = now.Add(2 * time.Second) // jm-a paused past its lease
		st, err := b.Tick(ctx)
		if err != nil || !st.Self {
			return fmt.Errorf("jm-b does not take over: %+v, %v", st, err)
		}
		epochB = st.Epoch
		sink.mu.Lock()
		sink.deposed = true
		sink.mu.Unlock()
		if fenceJob {
			_, err = cat.Fence(ctx, "sim", epochB)
		}
		return err
	}
	job := func(rng *rand.Rand) *runtime.Job {
		j := simJob(rng, splits, sink.Sink)
		j.Sinks[0].Sink = sink
		// Frequent checkpoints, so that the takeover comes before one of
		// several, not only before the final one.
		j.Checkpoint.Interval = time.Duration(1+rng.Intn(3)) * time.Millisecond
		return j
	}
	maxCrashes := rng.Intn(3)
	res, err := runtime.Simulate(runtime.Config{Store: store, State: memory.StateFactory{}, Fence: fa, BatchRecords: 1 + rng.Intn(16)}, runtime.SimOptions{
		Seed: seed, Job: job, MaxCrashes: maxCrashes, CrashProbability: 0.003 * float64(min(maxCrashes, 1)),
	})
	if err == nil {
		// Finished before the takeover: an unfenced run, which must be right too.
		if fa.refused != 0 || sink.deposed {
			return res, false, fmt.Errorf("finished although checkpoint %d was refused (deposed %v)", fa.refused, sink.deposed)
		}
		if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			return res, false, fmt.Errorf("unfenced run: %s", diff(got, want))
		}
		return res, false, checkCatalog(ctx, cat, 0)
	}
	if !errors.Is(err, runtime.ErrFenced) {
		return res, false, fmt.Errorf("jm-a's run: %w, want runtime.ErrFenced", err)
	}
	if fa.refused == 0 {
		return res, true, fmt.Errorf("fenced, but no completion was refused: %v", err)
	}
	if len(sink.late) > 0 {
		return res, true, fmt.Errorf("the deposed leader's sink still ran: %v", sink.late)
	}
	if ids, _ := runtime.Checkpoints(ctx, store); len(ids) > 0 && ids[0] >= fa.refused {
		return res, true, fmt.Errorf("checkpoint %d has a manifest, but its completion (or an earlier one, %d) was refused", ids[0], fa.refused)
	}
	if err := checkCatalog(ctx, cat, 0); err != nil {
		return res, true, err
	}
	// jm-b, the new leader, runs the job on: every record once.
	sink.mu.Lock()
	sink.deposed = false
	sink.mu.Unlock()
	fb := coord.Fence{Catalog: cat, Epoch: epochB, Now: clock}
	resB, err := runtime.Simulate(runtime.Config{Store: store, State: memory.StateFactory{}, Fence: fb}, runtime.SimOptions{Seed: seed + 1, Job: job})
	res.Events = append(res.Events, resB.Events...)
	if err != nil {
		return res, true, fmt.Errorf("jm-b's run: %w", err)
	}
	if got := sink.Committed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		return res, true, fmt.Errorf("after the takeover: %s", diff(got, want))
	}
	// And jm-a, if it came back, could not join in.
	if _, err := fa.Fence.FenceJob(ctx, "sim"); !errors.Is(err, runtime.ErrFenced) {
		return res, true, fmt.Errorf("jm-a fences the job after jm-b ran it: %v", err)
	}
	return res, true, checkCatalog(ctx, cat, epochB)
}

// checkCatalog checks that the catalog's checkpoint ids go up, their epochs
// never go back, and the newest was completed by newestEpoch (0: any).
func checkCatalog(ctx context.Context, cat *coord.Catalog, newestEpoch coord.Epoch) error {
	cps, err := cat.Checkpoints(ctx, "sim")
	if err != nil {
		return err
	}
	for i := 1; i < len(cps); i++ {
		if cps[i].ID <= cps[i-1].ID || cps[i].Epoch < cps[i-1].Epoch {
			return fmt.Errorf("catalog goes back: %+v then %+v", cps[i-1], cps[i])
		}
	}
	if n := len(cps); newestEpoch != 0 && (n == 0 || cps[n-1].Epoch != newestEpoch) {
		return fmt.Errorf("catalog's newest checkpoint %+v, want one of epoch %d", cps, newestEpoch)
	}
	return nil
}

package runtime

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"time"
)

// Simulate runs a job the way the simulation test does: in one goroutine, under
// a scheduler that picks every next event at random from a seed — which subtask
// consumes which message, when the clock moves (and checkpoints trigger), when
// uploads finish, and when the whole "process" crashes. After a crash
// everything in memory is dropped and the job restarts from cfg.Store, the way a
// rerun of `weir run` would. With the same seed, job and twins, a run replays
// exactly, which is what makes a failing seed debuggable.
//
// Simulate is for tests: cfg should use in-memory twins (runtime/memory), whose
// sinks outlive the crashes like an external system does.
func Simulate(cfg Config, opts SimOptions) (SimResult, error) {
	s := &simulation{opts: opts, rng: rand.New(rand.NewSource(opts.Seed))}
	if opts.MaxSteps == 0 {
		s.opts.MaxSteps = 10_000_000
	}
	clock := NewManualClock(time.Unix(1_700_000_000, 0))
	cfg.Clock = clock
	s.clock = clock
	if cfg.Logger == nil {
		cfg.Logger = discardLog
	}
	cfg.setDefaults()
	for {
		job := opts.Job(s.rng).WithDefaults()
		if err := job.Validate(); err != nil {
			return s.res, err
		}
		p := opts.CrashProbability
		if s.res.Crashes >= opts.MaxCrashes {
			p = 0
		}
		done, err := s.runProcess(job, cfg, p)
		if errors.Is(err, ErrFenced) {
			// As Execution does: a newer leader runs the job; no restart.
			s.logf("fenced: %v", err)
			return s.res, err
		}
		if err != nil {
			// An attempt that fails (say, too many checkpoints in a row timed out)
			// restarts from the last checkpoint, as Execution does.
			s.res.Failures++
			s.logf("attempt failed: %v", err)
			if s.res.Failures > maxSimFailures {
				return s.res, fmt.Errorf("%d attempts failed; last: %w", s.res.Failures, err)
			}
			continue
		}
		if done {
			return s.res, nil
		}
		if opts.AfterCrash != nil {
			if msg := opts.AfterCrash(s.rng); msg != "" {
				s.logf("%s", msg)
			}
		}
	}
}

// maxSimFailures bounds the failed attempts of one simulation.
const maxSimFailures = 20

// SimOptions configures Simulate.
type SimOptions struct {
	Seed int64
	// Job returns the job to run; it is called at the start and after every
	// crash, so it may change parallelism (a restore with rescaling).
	Job func(rng *rand.Rand) *Job
	// MaxCrashes bounds the crashes; CrashProbability is the chance of one at
	// each scheduler step.
	MaxCrashes       int
	CrashProbability float64
	// AfterCrash runs after each crash, before the restart (for example, to
	// corrupt the newest checkpoint); what it returns is logged as an event.
	AfterCrash func(rng *rand.Rand) string
	MaxSteps   int // default 10 M
}

// SimResult tells what happened in a simulation.
type SimResult struct {
	Crashes  int
	Failures int // attempts that failed with an error and were restarted
	Steps    int
	Events   []string // restores, checkpoints, crashes, in order
}

// ManualClock is a Clock that moves only when told to. It is safe for
// concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a ManualClock reading now.
func NewManualClock(now time.Time) *ManualClock { return &ManualClock{now: now} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type simQueue struct{ msgs []message }

func (q *simQueue) send(m message) error { q.msgs = append(q.msgs, m); return nil }

// simQueueCap is the soft bound of a simulated channel: a subtask is only
// scheduled when every queue it sends to holds fewer batches.
const simQueueCap = 4

type simDriver struct {
	acks     []ackMsg
	finished []taskID
	asyncs   []func(context.Context)
}

func (d *simDriver) newChannel() (link, any) { q := &simQueue{}; return q, q }
func (d *simDriver) ack(a ackMsg)            { d.acks = append(d.acks, a) }
func (d *simDriver) sourceFinished(t taskID) { d.finished = append(d.finished, t) }
func (d *simDriver) async(f func(context.Context)) {
	d.asyncs = append(d.asyncs, f)
}
func (d *simDriver) close() {}

type simulation struct {
	opts  SimOptions
	rng   *rand.Rand
	clock *ManualClock
	res   SimResult
}

func (s *simulation) logf(format string, args ...any) {
	s.res.Events = append(s.res.Events, fmt.Sprintf(format, args...))
}

func hasRoom(outs outputs) bool {
	for _, p := range outs {
		if p == nil {
			continue
		}
		for _, e := range p.edges {
			for _, l := range e.targets {
				if len(l.(*simQueue).msgs) >= simQueueCap {
					return false
				}
			}
		}
	}
	return true
}

type simAction struct {
	name string
	run  func() error
}

// runProcess runs the job until it finishes (true) or the simulated process
// crashes (false).
func (s *simulation) runProcess(job *Job, cfg Config, crashProb float64) (bool, error) {
	ctx := context.Background()
	newest, err := fenceJob(ctx, job, cfg.Fence)
	if err != nil {
		return false, err
	}
	var d *simDriver
	a, m, nextID, err := restoreAttempt(ctx, job, cfg, func() driver { d = &simDriver{}; return d }, map[int64]bool{}, newStats(job))
	if err != nil {
		return false, err
	}
	nextID = max(nextID, newest+1)
	if a == nil {
		s.logf("restored finished checkpoint %d", m.Checkpoint)
		return true, redeliverFinishedAcks(ctx, job, cfg.Store, m)
	}
	if m != nil {
		s.logf("restored checkpoint %d", m.Checkpoint)
	} else {
		s.logf("fresh start")
	}
	defer a.close()
	coord := newCoordinator(job, cfg.Store, cfg.Logger, a.numTasks(), len(a.sources), nextID, s.clock.Now())
	coord.ctl = newController(a, m)
	coord.now, coord.fence = s.clock.Now, cfg.Fence
	if coord.dlq, err = restoreDLQ(ctx, a.cfg, m); err != nil {
		return false, err
	}
	coord.splitNames, coord.ackFrom = a.splitNames, ackedRecords(m)
	if err := deliverAcks(ctx, job, cfg.Store, a.splitNames, m, coord.dlq); err != nil {
		return false, err
	}
	a.inject(coord.dlq.newlyResubmitting(nil))
	for _, src := range a.sources {
		if err := src.start(); err != nil {
			return false, err
		}
	}
	var acts []simAction
	for ; ; s.res.Steps++ {
		for len(d.acks) > 0 || len(d.finished) > 0 {
			for _, f := range d.finished {
				coord.sourceFinished()
				s.logf("source %s finished", f)
			}
			d.finished = nil
			acks := d.acks
			d.acks = nil
			for _, ack := range acks {
				done, err := coord.onAck(ctx, ack)
				if err != nil {
					return false, err
				}
				if done != nil {
					s.logf("checkpoint %d complete (finished=%v)", done.Checkpoint, done.Finished)
				}
			}
		}
		if coord.done {
			return true, nil
		}
		if s.res.Steps > s.opts.MaxSteps {
			return false, fmt.Errorf("no end after %d steps", s.res.Steps)
		}
		if s.rng.Float64() < crashProb {
			s.logf("crash at step %d", s.res.Steps)
			s.res.Crashes++
			return false, nil
		}
		acts = acts[:0]
		for _, src := range a.sources {
			if !src.finished() && hasRoom(src.outs) {
				acts = append(acts, simAction{"poll " + src.id.String(), func() error { _, err := src.poll(ctx); return err }})
			}
		}
		for _, t := range a.tasks {
			if !hasRoom(t.outs) {
				continue
			}
			for i, r := range t.receivers {
				q := r.(*simQueue)
				if len(q.msgs) == 0 || t.isBlocked(i) {
					continue
				}
				acts = append(acts, simAction{fmt.Sprintf("deliver %s input %d", t.id, i), func() error {
					m := q.msgs[0]
					q.msgs = q.msgs[1:]
					return t.handle(ctx, i, m)
				}})
			}
		}
		if len(d.asyncs) > 0 {
			acts = append(acts, simAction{"finish an upload", func() error {
				k := s.rng.Intn(len(d.asyncs))
				f := d.asyncs[k]
				d.asyncs = append(d.asyncs[:k], d.asyncs[k+1:]...)
				f(ctx)
				return nil
			}})
		}
		// The clock moves now and then while there is work, always when there is none.
		if len(acts) == 0 || s.rng.Intn(20) == 0 {
			acts = append(acts, simAction{"tick", func() error {
				s.clock.Advance(time.Duration(1+s.rng.Intn(30)) * time.Millisecond)
				for _, t := range a.tasks {
					if err := t.proc.tick(ctx); err != nil {
						return err
					}
				}
				id, err := coord.tick(s.clock.Now())
				if err != nil || id == 0 {
					return err
				}
				s.logf("trigger checkpoint %d", id)
				for _, src := range a.sources {
					if err := src.trigger(id); err != nil {
						return err
					}
				}
				return nil
			}})
		}
		act := acts[s.rng.Intn(len(acts))]
		if err := act.run(); err != nil {
			return false, fmt.Errorf("%s: %w", act.name, err)
		}
	}
}

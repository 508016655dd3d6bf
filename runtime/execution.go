package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"time"
)

// Config is what a job runs on: where state and checkpoints go, and the clock.
type Config struct {
	// Store keeps checkpoints (required). A job restarted on the same Store
	// resumes from its newest complete checkpoint.
	Store SnapshotStore
	// State opens keyed state (required when the job has a keyed operator).
	State StateBackendFactory
	// WorkDir holds the subtasks' local state (required with State).
	WorkDir string
	// Savepoint, if set, is a savepoint to start from when Store holds no
	// checkpoint yet (see WriteSavepoint).
	Savepoint SnapshotStore
	// StateCacheBytes bounds each keyed subtask's state cache (0: the backend's default).
	StateCacheBytes int64
	// QueueBatches is the capacity of each channel between subtasks, in batches
	// (default 8): a full channel blocks the sender (backpressure).
	QueueBatches int
	// BatchRecords is the most records a batch between subtasks holds (default
	// DefaultBatchRecords).
	BatchRecords int
	// Modules resolves the module an operator ran at the restored checkpoint
	// (Manifest.Modules) when it differs from the OperatorNode's Module: after
	// a hot swap, a restart must pair the state with the swapped-in module, not
	// with the one the job was submitted with. Nil: the node's Factory always
	// runs (a local run that picks up a rebuilt module file).
	Modules ModuleResolver
	// Observer receives measurements for metrics (nil: none).
	Observer Observer
	// Fence admits checkpoint completions on behalf of a cluster's leader
	// (nil: every completion is admitted, as in a single process).
	Fence  CheckpointFence
	Clock  Clock        // default: the wall clock
	Logger *slog.Logger // default: slog.Default()

	fromSavepoint bool       // the attempt restores from Savepoint
	shadows       *shadowSet // the Execution's shadows (nil: none can run)
}

func (cfg *Config) setDefaults() {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.QueueBatches <= 0 {
		cfg.QueueBatches = 8
	}
	if cfg.BatchRecords <= 0 {
		cfg.BatchRecords = DefaultBatchRecords
	}
}

// Result says how a run ended.
type Result struct {
	// Finished is true when every source ended and the final checkpoint
	// committed everything; false when the run was stopped.
	Finished bool
	// LastCheckpoint is the newest complete checkpoint.
	LastCheckpoint int64
	// Restarts counts the attempts that failed and were restarted.
	Restarts int
}

// Execution is a running job. Stop ends it gracefully; cancelling the context
// given to Start ends it at once.
type Execution struct {
	job    *Job
	cfg    Config
	stats  *Stats
	stopCh chan struct{}
	stop   sync.Once
	doneCh chan struct{}
	res    Result
	err    error

	ctl     chan *controlReq // SwapModule and Checkpoint requests
	shadows *shadowSet

	mu       sync.Mutex
	progress Progress
	modules  []ModuleChange // module history as of the newest complete checkpoint
	dlq      *DLQSnapshot   // dead-letter queue as of the newest complete checkpoint
}

// Progress is a snapshot of a running job, for progress lines.
type Progress struct {
	Attempt          int
	LastCheckpoint   int64
	LastCheckpointAt time.Time
	Restored         int64 // checkpoint the current attempt restored (0: none)
}

// Start validates job, then runs it in the background until it finishes, is
// stopped, or fails more often than job.Restart allows.
func Start(ctx context.Context, job *Job, cfg Config) (*Execution, error) {
	job.WithDefaults()
	if err := job.Validate(); err != nil {
		return nil, err
	}
	if cfg.Store == nil {
		return nil, errors.New("runtime config: no snapshot store")
	}
	cfg.setDefaults()
	cfg.shadows = newShadowSet(job)
	x := &Execution{job: job, cfg: cfg, shadows: cfg.shadows, stats: newStats(job), stopCh: make(chan struct{}), doneCh: make(chan struct{}), ctl: make(chan *controlReq)}
	go func() {
		defer close(x.doneCh)
		x.res, x.err = x.run(ctx)
		closeJob(job, cfg.Logger)
	}()
	return x, nil
}

// Run starts job and waits for it.
func Run(ctx context.Context, job *Job, cfg Config) (Result, error) {
	x, err := Start(ctx, job, cfg)
	if err != nil {
		return Result{}, err
	}
	return x.Wait()
}

// Stop asks for a final checkpoint after which the job stops; rerunning it on the
// same store resumes from there. It does not wait: use Wait.
func (x *Execution) Stop() { x.stop.Do(func() { close(x.stopCh) }) }

// Wait waits for the job to end.
func (x *Execution) Wait() (Result, error) {
	<-x.doneCh
	return x.res, x.err
}

// Done is closed when the job has ended.
func (x *Execution) Done() <-chan struct{} { return x.doneCh }

// Stats returns the record counters of the job.
func (x *Execution) Stats() *Stats { return x.stats }

// Progress returns the current progress.
func (x *Execution) Progress() Progress {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.progress
}

func (x *Execution) run(ctx context.Context) (Result, error) {
	var res Result
	bad := map[int64]bool{} // checkpoints that failed to restore
	for attempt := 0; ; attempt++ {
		x.mu.Lock()
		x.progress.Attempt = attempt
		x.mu.Unlock()
		r, err := x.runAttempt(ctx, bad)
		res.LastCheckpoint = max(res.LastCheckpoint, r.LastCheckpoint)
		if err == nil {
			res.Finished = r.Finished
			return res, nil
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		var rf *RecordFailedError
		if errors.As(err, &rf) {
			// NB: no restart: it would replay the record into the same failure.
			return res, fmt.Errorf("job %q failed: %w", x.job.Name, err)
		}
		if errors.Is(err, ErrFenced) {
			// NB: no restart: a newer leader runs the job; a restart here would
			// recover (commit) and run it a second time.
			return res, fmt.Errorf("job %q stopped: %w", x.job.Name, err)
		}
		if errors.Is(err, ErrOutputLost) {
			// NB: no restart: Recover would commit the same committables into
			// the same loss, as many times as the job may restart.
			return res, fmt.Errorf("job %q failed without restarts (a restart would fail the same way): %w", x.job.Name, err)
		}
		if attempt >= max(x.job.Restart.Attempts, 0) {
			return res, fmt.Errorf("job %q failed after %d restarts: %w", x.job.Name, res.Restarts, err)
		}
		res.Restarts++
		x.cfg.Logger.Error("job attempt failed; restarting from the last complete checkpoint", "job", x.job.Name, "attempt", attempt, "err", err, "delay", x.job.Restart.Delay)
		select {
		case <-time.After(x.job.Restart.Delay):
		case <-ctx.Done():
			return res, ctx.Err()
		case <-x.stopCh:
			return res, err
		}
	}
}

// fenceJob claims job through fence (nil: nothing to claim) before an
// attempt restores it, and returns the newest checkpoint id the fence has
// admitted for it.
func fenceJob(ctx context.Context, job *Job, fence CheckpointFence) (int64, error) {
	if fence == nil {
		return 0, nil
	}
	newest, err := fence.FenceJob(ctx, job.Name)
	if err != nil {
		return 0, fmt.Errorf("fence job %q before restoring it: %w", job.Name, err)
	}
	return newest, nil
}

// chooseRestore finds the newest checkpoint not marked bad whose manifest reads
// back intact. It returns nil and the next checkpoint id for a fresh start.
func chooseRestore(ctx context.Context, cfg *Config, bad map[int64]bool, log *slog.Logger) (*Manifest, int64, error) {
	ids, maxSeen, err := listCheckpoints(ctx, cfg.Store)
	if err != nil {
		return nil, 0, err
	}
	var corrupt []string
	for _, id := range ids {
		if bad[id] {
			continue
		}
		m, err := ReadManifest(ctx, cfg.Store, manifestObject(id))
		if err != nil {
			if errors.Is(err, ErrCorruptSnapshot) {
				log.Error("checkpoint manifest is corrupt; falling back to an older checkpoint", "checkpoint", id, "err", err)
				bad[id] = true
				corrupt = append(corrupt, fmt.Sprint(id))
				continue
			}
			return nil, 0, err
		}
		return m, maxSeen + 1, nil
	}
	if len(ids) > 0 {
		// NB: never start from nothing when checkpoints exist but none is usable: that
		// would replay every source into sinks that hold committed output.
		return nil, 0, fmt.Errorf("no usable checkpoint in the snapshot store (%d found, all corrupt or unreadable); start with a new data directory to run from scratch", len(ids))
	}
	if cfg.Savepoint != nil {
		m, err := ReadManifest(ctx, cfg.Savepoint, savepointManifest)
		if err != nil {
			return nil, 0, fmt.Errorf("read savepoint: %w", err)
		}
		cfg.fromSavepoint = true
		return m, m.Checkpoint + 1, nil
	}
	return nil, maxSeen + 1, nil
}

// restoreAttempt chooses the checkpoint to restore — the newest one whose
// manifest and state pass their checksums, falling back to older ones — and
// builds an attempt from it with a driver from newDriver. m is nil for a fresh
// start; when m.Finished the job is already done and a is nil.
func restoreAttempt(ctx context.Context, job *Job, cfg Config, newDriver func() driver, bad map[int64]bool, stats *Stats) (a *attempt, m *Manifest, nextID int64, err error) {
	log := cfg.Logger
	for {
		c := cfg
		m, nextID, err = chooseRestore(ctx, &c, bad, log)
		if err != nil {
			return nil, nil, 0, err
		}
		if m != nil && m.Finished {
			return nil, m, nextID, nil
		}
		// NB: also on a restore, not only on a fresh start: a process killed
		// during a checkpoint leaves that checkpoint's uploads, which no manifest
		// will ever reference, and nothing else deletes them. No upload of this
		// job is in flight here, and the sweep skips itself when any manifest is
		// unreadable (a fallback may still need what it references).
		sweepOrphans(ctx, c.Store, statePrefix, log)
		sweepOrphans(ctx, c.Store, dlqPrefix, log)
		sweepOrphans(ctx, c.Store, journalPrefix, log)
		d := newDriver()
		a, err = buildAttempt(ctx, job, &c, d, m, stats)
		if err == nil {
			return a, m, nextID, nil
		}
		d.close()
		if m != nil && !c.fromSavepoint && errors.Is(err, ErrCorruptSnapshot) {
			log.Error("checkpoint state is corrupt; falling back to an older checkpoint", "checkpoint", m.Checkpoint, "err", err)
			bad[m.Checkpoint] = true
			continue
		}
		return nil, nil, 0, err
	}
}

// runAttempt builds and runs one attempt with goroutines and channels.
func (x *Execution) runAttempt(ctx context.Context, bad map[int64]bool) (Result, error) {
	log := x.cfg.Logger
	newest, err := fenceJob(ctx, x.job, x.cfg.Fence)
	if err != nil {
		return Result{}, err
	}
	var d *goDriver
	a, m, nextID, err := restoreAttempt(ctx, x.job, x.cfg, func() driver { d = newGoDriver(ctx, x.cfg.QueueBatches); return d }, bad, x.stats)
	if err != nil {
		return Result{}, err
	}
	nextID = max(nextID, newest+1)
	if a == nil {
		log.Info("the job already finished at this checkpoint; nothing to do", "checkpoint", m.Checkpoint)
		if err := redeliverFinishedAcks(ctx, x.job, x.cfg.Store, m); err != nil {
			return Result{}, err
		}
		return Result{Finished: true, LastCheckpoint: m.Checkpoint}, nil
	}
	restored := int64(0)
	if m != nil {
		restored = m.Checkpoint
	}
	log.Info("job running", "job", x.job.Name, "restoredCheckpoint", restored, "subtasks", a.numTasks())
	x.mu.Lock()
	x.progress.Restored = restored
	x.mu.Unlock()

	coord := newCoordinator(x.job, x.cfg.Store, log, a.numTasks(), len(a.sources), nextID, x.cfg.Clock.Now())
	coord.completed = restored
	coord.ctl = newController(a, m)
	coord.obs, coord.now, coord.fence = x.cfg.Observer, x.cfg.Clock.Now, x.cfg.Fence
	if coord.dlq, err = restoreDLQ(ctx, a.cfg, m); err != nil {
		d.close()
		d.wait()
		a.close()
		return Result{}, err
	}
	coord.onDLQ = func(s *DLQSnapshot) {
		x.mu.Lock()
		x.dlq = s
		x.mu.Unlock()
	}
	coord.onDLQ(coord.dlq.snapshot(restored))
	// The restored checkpoint's ACK/NACKs may not have gone out before the
	// crash: again (a target deduplicates by Ack.ID).
	coord.splitNames, coord.ackFrom = a.splitNames, ackedRecords(m)
	if err := deliverAcks(ctx, x.job, a.cfg.Store, a.splitNames, m, coord.dlq); err != nil {
		d.close()
		d.wait()
		a.close()
		return Result{}, err
	}
	// Resubmissions the restored checkpoint committed but whose records had not
	// run before the next barrier: they run first.
	a.inject(coord.dlq.newlyResubmitting(nil))
	x.mu.Lock()
	x.modules = append([]ModuleChange(nil), coord.ctl.modules...)
	x.mu.Unlock()
	coord.onComplete = func(m *Manifest) {
		x.mu.Lock()
		x.progress.LastCheckpoint, x.progress.LastCheckpointAt = m.Checkpoint, x.cfg.Clock.Now()
		x.modules = m.Modules
		x.mu.Unlock()
	}
	err = d.run(a, coord, x.stopCh, x.ctl)
	coord.ctl.fail(err)
	d.close()
	d.wait()
	a.close()
	return Result{Finished: coord.finishedJob, LastCheckpoint: coord.completed}, err
}

// goDriver runs an attempt with one goroutine per subtask.
type goDriver struct {
	ctx      context.Context
	cancel   context.CancelFunc
	queueLen int
	events   chan driverEvent
	wg       sync.WaitGroup // subtask goroutines and uploads
}

type driverEvent struct {
	ack      *ackMsg
	finished *taskID
	err      error
}

func newGoDriver(parent context.Context, queueLen int) *goDriver {
	ctx, cancel := context.WithCancel(parent)
	return &goDriver{ctx: ctx, cancel: cancel, queueLen: queueLen, events: make(chan driverEvent, 64)}
}

func (d *goDriver) newChannel() (link, any) {
	ch := make(chan message, d.queueLen)
	return chanLink{ch: ch, done: d.ctx.Done()}, ch
}

func (d *goDriver) post(ev driverEvent) {
	select {
	case d.events <- ev:
	case <-d.ctx.Done():
	}
}

func (d *goDriver) ack(a ackMsg)            { d.post(driverEvent{ack: &a}) }
func (d *goDriver) sourceFinished(t taskID) { d.post(driverEvent{finished: &t}) }
func (d *goDriver) async(f func(ctx context.Context)) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f(d.ctx)
	}()
}

func (d *goDriver) wait()  { d.wg.Wait() }
func (d *goDriver) close() { d.cancel() }

// checkpointTickInterval is how often the coordinator looks at the clock.
const checkpointTickInterval = 20 * time.Millisecond

// run starts the subtasks and coordinates checkpoints until the attempt ends.
func (d *goDriver) run(a *attempt, coord *coordinator, stop <-chan struct{}, ctl <-chan *controlReq) error {
	triggers := make([]chan int64, len(a.sources))
	for i, s := range a.sources {
		triggers[i] = make(chan int64, 16)
		d.spawn(func() error { return d.runSource(s, triggers[i]) })
	}
	for _, t := range a.tasks {
		d.spawn(func() error { return d.runInput(t) })
	}
	ticker := time.NewTicker(checkpointTickInterval)
	defer ticker.Stop()
	for {
		select {
		case ev := <-d.events:
			switch {
			case ev.err != nil:
				return ev.err
			case ev.finished != nil:
				coord.sourceFinished()
			case ev.ack != nil:
				if _, err := coord.onAck(d.ctx, *ev.ack); err != nil {
					return err
				}
				if coord.done {
					return nil
				}
			}
			continue
		case <-ticker.C:
		case <-stop:
			stop = nil
			coord.requestStop()
		case r := <-ctl:
			coord.ctl.queue = append(coord.ctl.queue, r)
		case <-d.ctx.Done():
			return d.ctx.Err()
		}
		coord.ctl.next(d.ctx, coord)
		id, err := coord.tick(a.clock.Now())
		if err != nil {
			return err
		}
		if id != 0 {
			for _, tr := range triggers {
				select {
				case tr <- id:
				case <-d.ctx.Done():
					return d.ctx.Err()
				}
			}
		}
	}
}

func (d *goDriver) spawn(f func() error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := f(); err != nil && !errors.Is(err, errCancelled) && d.ctx.Err() == nil {
			d.post(driverEvent{err: err})
		}
	}()
}

// Source idle back-off: a source with nothing to read waits this long, doubling
// up to the maximum, before it polls again.
const (
	sourceIdleMin = 200 * time.Microsecond
	sourceIdleMax = 20 * time.Millisecond
)

func (d *goDriver) runSource(s *sourceTask, trigger <-chan int64) error {
	if err := s.start(); err != nil {
		return err
	}
	idle := sourceIdleMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case id := <-trigger:
			if err := s.trigger(id); err != nil {
				return err
			}
			continue
		case <-d.ctx.Done():
			return nil
		default:
		}
		progress := false
		if !s.finished() {
			var err error
			if progress, err = s.poll(d.ctx); err != nil {
				return err
			}
		}
		if progress {
			idle = sourceIdleMin
			continue
		}
		if s.finished() {
			select {
			case id := <-trigger:
				if err := s.trigger(id); err != nil {
					return err
				}
			case <-d.ctx.Done():
				return nil
			}
			continue
		}
		timer.Reset(idle)
		select {
		case id := <-trigger:
			if err := s.trigger(id); err != nil {
				return err
			}
		case <-timer.C:
		case <-d.ctx.Done():
			return nil
		}
		idle = min(2*idle, sourceIdleMax)
	}
}

func (d *goDriver) runInput(t *inputTask) error {
	ticker := time.NewTicker(tickInterval)
	defer ticker.Stop()
	n := t.numInputs()
	if n == 1 {
		in := t.receivers[0].(chan message)
		for {
			select {
			case m := <-in:
				if err := t.handle(d.ctx, 0, m); err != nil {
					return err
				}
			case <-ticker.C:
				if err := t.proc.tick(d.ctx); err != nil {
					return err
				}
			case <-d.ctx.Done():
				return nil
			}
		}
	}
	// Several inputs: select over those not blocked by barrier alignment.
	cases := make([]reflect.SelectCase, n+2)
	chans := make([]reflect.Value, n)
	for i := range chans {
		chans[i] = reflect.ValueOf(t.receivers[i].(chan message))
		cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: chans[i]}
	}
	cases[n] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ticker.C)}
	cases[n+1] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(d.ctx.Done())}
	for {
		for i := 0; i < n; i++ {
			if t.isBlocked(i) {
				cases[i].Chan = reflect.Value{} // ignored by Select
			} else {
				cases[i].Chan = chans[i]
			}
		}
		i, v, _ := reflect.Select(cases)
		switch {
		case i < n:
			if err := t.handle(d.ctx, i, v.Interface().(message)); err != nil {
				return err
			}
		case i == n:
			if err := t.proc.tick(d.ctx); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// closeJob closes the sources, sinks and ack target of job that hold
// resources of their own beyond their readers and writers (the control
// connection of a transactional sink, an ack target's producer): without it
// a server that runs job after job would keep a connection per run. A
// closer that fails is logged; the job's result stands.
func closeJob(job *Job, log *slog.Logger) {
	var cs []any
	for _, n := range job.Sources {
		cs = append(cs, n.Source)
	}
	for _, n := range job.Sinks {
		cs = append(cs, n.Sink)
	}
	cs = append(cs, job.Acks)
	for _, c := range cs {
		if c, ok := c.(io.Closer); ok {
			if err := c.Close(); err != nil {
				log.Warn("closing a job's connection failed", "job", job.Name, "err", err)
			}
		}
	}
}

package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/jobspec"
)

// Config is what a Server runs on. The composition root fills it in.
type Config struct {
	// DataDir holds the jobs' checkpoints and state (jobs/<id>/) and
	// savepoints (savepoints/<id>/).
	DataDir string
	// Catalog keeps module and job records and module bytes.
	Catalog runtime.SnapshotStore
	// OpenStore opens (creating) a local snapshot store in a directory.
	OpenStore func(dir string) (runtime.SnapshotStore, error)
	State     runtime.StateBackendFactory
	Loader    ModuleLoader
	Sources   map[string]jobspec.SourceFactory
	Sinks     map[string]jobspec.SinkFactory
	// Acks are the ack targets a job spec's acks field may name, by kind.
	Acks map[string]jobspec.AckFactory
	// NewCaller makes a job's external caller from its endpoints (nil: a job
	// spec with endpoints is refused).
	NewCaller func([]jobspec.Endpoint) (runtime.Caller, error)
	// FilesDir is the directory the path options of file sources and sinks
	// are relative to; they cannot leave it.
	FilesDir string
	// MaxModuleBytes caps an upload (default 64 MiB).
	MaxModuleBytes  int64
	StateCacheBytes int64
	// Observer receives the jobs' measurements (nil: none).
	Observer runtime.Observer
	// Fence admits the jobs' checkpoint completions on behalf of the
	// cluster's leader (runtime.Config.Fence; nil for a single server). A
	// job that it fences stops and keeps its record as it is: the newer
	// leader runs it.
	Fence  runtime.CheckpointFence
	Logger *slog.Logger
	Clock  runtime.Clock
}

// DefaultMaxModuleBytes is the default upload cap.
const DefaultMaxModuleBytes = 64 << 20

// Job states, as stored.
const (
	stateRunning   = "running"
	stateRescaling = "rescaling"
	stateFinished  = "finished"
	stateCancelled = "cancelled"
	stateFailed    = "failed"
)

// jobRecord is a job as the catalog keeps it (jobs/<id>.json).
type jobRecord struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Spec            string `json:"spec"`
	SubmittedUnixMs int64  `json:"submittedUnixMs"`
	// Pins maps each module reference of the spec to the digest it named at
	// submission, so pushing a module under the same name later does not
	// change the job.
	Pins map[string]string `json:"pins"`
	// Uses lists every module digest the job ran or may restore (pins and
	// swapped-in modules); Delete refuses them while the job is not ended.
	Uses []string `json:"uses"`
	// Parallelism, when not 0, overrides every node's (set by Rescale).
	Parallelism int    `json:"parallelism,omitempty"`
	State       string `json:"state"`
	Error       string `json:"error,omitempty"`
}

func (r *jobRecord) ended() bool {
	return r.State == stateFinished || r.State == stateCancelled || r.State == stateFailed
}

func jobObject(id string) string { return "jobs/" + id + ".json" }

// Server runs jobs and keeps their records.
type Server struct {
	cfg  Config
	mods *modules
	log  *slog.Logger

	mu   sync.Mutex
	jobs map[string]*jobRun
}

// jobRun is a job known to the server, running or not.
type jobRun struct {
	mu       sync.Mutex
	rec      jobRecord
	store    runtime.SnapshotStore
	x        *runtime.Execution // nil when not running
	job      *runtime.Job
	cancel   context.CancelFunc
	done     chan struct{} // closed when the current execution's watcher ends
	restarts int
	limits   map[string]jobspec.ModuleLimits // per operator
	op       sync.Mutex                      // serializes swap, rescale, cancel, savepoint
	rates    rateMeter
	stats    *jobStats // set by start; kept across executions
	// lastCounts are the records per node of the last execution that ended
	// in this process, for Get of a job that is not running.
	lastCounts map[string]int64
	// endedDLQ is the DLQ of a job that has ended, read once: it cannot
	// change any more.
	endedDLQ *runtime.DLQSnapshot
	// lastShadows are the shadows of the last execution that ended in this
	// process, with their final counts.
	lastShadows []runtime.ShadowStatus
}

// New opens the server's records and resumes every job that was running.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = runtime.SystemClock{}
	}
	if cfg.MaxModuleBytes <= 0 {
		cfg.MaxModuleBytes = DefaultMaxModuleBytes
	}
	cfg.MaxModuleBytes = min(cfg.MaxModuleBytes, maxModuleBytesCap)
	s := &Server{cfg: cfg, mods: &modules{cat: cfg.Catalog, loader: cfg.Loader}, log: cfg.Logger, jobs: map[string]*jobRun{}}
	names, err := cfg.Catalog.List(ctx, "jobs/")
	if err != nil {
		return nil, fmt.Errorf("list job records: %w", err)
	}
	for _, n := range names {
		var rec jobRecord
		if err := getJSON(ctx, cfg.Catalog, n, &rec); err != nil {
			return nil, err
		}
		if checkJobID(rec.ID) != nil || jobObject(rec.ID) != n {
			return nil, fmt.Errorf("catalog record %s holds job id %q", n, rec.ID)
		}
		j := &jobRun{rec: rec}
		s.jobs[rec.ID] = j
		if rec.ended() {
			continue
		}
		s.log.Info("resuming job", "job", rec.ID, "state", rec.State)
		if err := s.start(j); err != nil {
			s.log.Error("job could not resume", "job", rec.ID, "err", err)
			j.rec.State, j.rec.Error = stateFailed, err.Error()
			s.save(context.Background(), j)
		}
	}
	return s, nil
}

// Close stops every running job at once (they resume from their newest
// checkpoint when the server starts again).
func (s *Server) Close() {
	s.mu.Lock()
	jobs := make([]*jobRun, 0, len(s.jobs))
	for _, j := range s.jobs {
		jobs = append(jobs, j)
	}
	s.mu.Unlock()
	for _, j := range jobs {
		j.mu.Lock()
		cancel, done := j.cancel, j.done
		j.mu.Unlock()
		if cancel != nil {
			cancel()
			<-done
		}
	}
}

func (s *Server) save(ctx context.Context, j *jobRun) error {
	j.mu.Lock()
	rec := j.rec
	rec.Uses = slices.Clone(rec.Uses)
	j.mu.Unlock()
	return putJSON(ctx, s.cfg.Catalog, jobObject(rec.ID), &rec)
}

func (s *Server) jobDir(id string) string { return filepath.Join(s.cfg.DataDir, "jobs", id) }
func (s *Server) savepointDir(id string) string {
	return filepath.Join(s.cfg.DataDir, "savepoints", id)
}

// moduleFactory is the factory of an operator's module, with its digest.
type moduleFactory struct {
	runtime.OperatorFactory
	digest string
	lim    jobspec.ModuleLimits
}

// build turns a job record into a runtime job: the spec's module references
// resolve through the record's pins (or, at submission, through the store).
func (s *Server) build(ctx context.Context, rec *jobRecord, pin bool) (*runtime.Job, map[string]jobspec.ModuleLimits, error) {
	spec, err := jobspec.Parse([]byte(rec.Spec), "spec")
	if err != nil {
		return nil, nil, &validationError{err}
	}
	var loadErrs []error
	reg := jobspec.Registry{Sources: map[string]jobspec.SourceFactory{}, Sinks: map[string]jobspec.SinkFactory{}, Acks: s.cfg.Acks, NewCaller: s.cfg.NewCaller}
	for k, f := range s.cfg.Sources {
		reg.Sources[k] = func(opts json.RawMessage, _ string) (runtime.Source, error) {
			if err := sandboxOptions(opts, s.cfg.FilesDir); err != nil {
				return nil, err
			}
			return f(opts, s.cfg.FilesDir)
		}
	}
	for k, f := range s.cfg.Sinks {
		reg.Sinks[k] = func(opts json.RawMessage, _ string) (runtime.Sink, error) {
			if err := sandboxOptions(opts, s.cfg.FilesDir); err != nil {
				return nil, err
			}
			return f(opts, s.cfg.FilesDir)
		}
	}
	reg.LoadModule = func(ref string, lim jobspec.ModuleLimits) (runtime.OperatorFactory, error) {
		digest, ok := rec.Pins[ref]
		if !ok {
			if !pin {
				return nil, fmt.Errorf("module %q is not pinned in the job record", ref)
			}
			d, err := s.mods.resolve(ctx, ref)
			if err != nil {
				loadErrs = append(loadErrs, err)
				return nil, err
			}
			digest = d
			rec.Pins[ref] = d
		}
		f, err := s.factory(ctx, digest, lim)
		if err != nil {
			return nil, err
		}
		return &moduleFactory{OperatorFactory: f, digest: digest, lim: lim}, nil
	}
	// NB: an empty base directory leaves module references as written (they
	// are names, not paths; checkModuleRef refuses anything path-like).
	job, err := spec.Build(reg, "")
	if err != nil {
		for _, le := range loadErrs {
			if errors.Is(le, errNotFound) {
				return nil, nil, notFound{err}
			}
		}
		return nil, nil, &validationError{err}
	}
	limits := map[string]jobspec.ModuleLimits{}
	for _, n := range job.Operators {
		if mf, ok := n.Factory.(*moduleFactory); ok {
			n.Module = mf.digest
			limits[n.Name] = mf.lim
		} else if _, builtin := n.Factory.(*runtime.DedupFactory); !builtin {
			return nil, nil, &validationError{fmt.Errorf("operator %q: a server runs only uploaded Weir ABI modules (kind weir)", n.Name)}
		}
	}
	if rec.Parallelism > 0 {
		for _, n := range job.Sources {
			n.Parallelism = rec.Parallelism
		}
		for _, n := range job.Operators {
			n.Parallelism = rec.Parallelism
		}
		for _, n := range job.Sinks {
			n.Parallelism = rec.Parallelism
		}
		if err := job.Validate(); err != nil {
			return nil, nil, &validationError{fmt.Errorf("parallelism %d: %w", rec.Parallelism, err)}
		}
	}
	job.Name = rec.ID // NB: the job's checkpoints and state are per submission
	return job, limits, nil
}

// factory loads the module with digest under lim.
func (s *Server) factory(ctx context.Context, digest string, lim jobspec.ModuleLimits) (runtime.OperatorFactory, error) {
	wasm, err := s.mods.wasm(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", digest, err)
	}
	return s.cfg.Loader.Load(ctx, digest, wasm, lim)
}

// resolver resolves swapped-in modules of a job on restore.
type resolver struct {
	s *Server
	j *jobRun
}

func (r resolver) ResolveModule(ctx context.Context, operator, module string) (runtime.OperatorFactory, error) {
	r.j.mu.Lock()
	lim := r.j.limits[operator]
	r.j.mu.Unlock()
	return r.s.factory(ctx, module, lim)
}

// start builds and starts j's job from its record; it restores from the
// job's newest complete checkpoint.
func (s *Server) start(j *jobRun) error {
	ctx := context.Background()
	j.mu.Lock()
	rec := j.rec
	j.mu.Unlock()
	job, limits, err := s.build(ctx, &rec, false)
	if err != nil {
		return err
	}
	store, err := s.cfg.OpenStore(filepath.Join(s.jobDir(rec.ID), "snapshots"))
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.limits = limits
	if j.stats == nil {
		j.stats = newJobStats()
	}
	obs := jobObserver{next: s.cfg.Observer, stats: j.stats, clock: s.cfg.Clock}
	j.mu.Unlock()
	cfg := runtime.Config{
		Store: store, State: s.cfg.State, WorkDir: filepath.Join(s.jobDir(rec.ID), "work"),
		StateCacheBytes: s.cfg.StateCacheBytes, Modules: resolver{s, j}, Observer: obs,
		Logger: s.log.With("job", rec.ID), Clock: s.cfg.Clock, Fence: s.cfg.Fence,
	}
	runCtx, cancel := context.WithCancel(context.Background())
	x, err := runtime.Start(runCtx, job, cfg)
	if err != nil {
		cancel()
		return &validationError{err}
	}
	done := make(chan struct{})
	j.mu.Lock()
	j.x, j.job, j.store, j.cancel, j.done = x, job, store, cancel, done
	j.rec.State = stateRunning
	j.mu.Unlock()
	go s.watch(j, x, cancel, done)
	return nil
}

// watch waits for an execution to end and records how.
func (s *Server) watch(j *jobRun, x *runtime.Execution, cancel context.CancelFunc, done chan struct{}) {
	defer close(done)
	defer cancel()
	t := time.NewTicker(rateInterval)
	defer t.Stop()
	j.mu.Lock()
	par := parallelismOf(j.job)
	j.mu.Unlock()
	for {
		select {
		case <-t.C:
			now := time.Now()
			j.rates.sample(x.Stats().Records(), now)
			j.stats.sample(par, now)
			continue
		case <-x.Done():
		}
		break
	}
	res, err := x.Wait()
	counts := x.Stats().Records()
	shadows := x.Shadows()
	j.mu.Lock()
	j.lastCounts, j.lastShadows = counts, shadows
	j.restarts += res.Restarts
	if j.x == x {
		j.x = nil
	}
	switch {
	case j.rec.State != stateRunning:
		// Cancel or Rescale ended it: they record the state.
	case err != nil && errors.Is(err, context.Canceled):
		// The server is closing: the job resumes when it starts again.
	case err != nil && errors.Is(err, runtime.ErrFenced):
		// NB: not failed: a newer leader runs the job, and this deposed
		// one must not write its record.
		s.log.Warn("job stopped: a newer leader runs it", "job", j.rec.ID, "err", err)
	case err != nil:
		j.rec.State, j.rec.Error = stateFailed, err.Error()
	case res.Finished:
		j.rec.State = stateFinished
	}
	ended := j.rec.ended()
	j.mu.Unlock()
	if ended {
		if err := s.save(context.Background(), j); err != nil {
			s.log.Error("save job record", "job", j.rec.ID, "err", err)
		}
	}
}

// Submit pins the spec's modules, stores the job record and starts the job.
func (s *Server) Submit(ctx context.Context, spec string) (*jobRun, error) {
	if len(spec) > maxSpecBytes {
		return nil, &validationError{fmt.Errorf("job spec is %d bytes, more than the limit of %d", len(spec), maxSpecBytes)}
	}
	parsed, err := jobspec.Parse([]byte(spec), "spec")
	if err != nil {
		return nil, &validationError{err}
	}
	var suffix [4]byte
	rand.Read(suffix[:])
	id := parsed.Name() + "-" + hex.EncodeToString(suffix[:])
	if checkJobID(id) != nil {
		id = "job-" + hex.EncodeToString(suffix[:])
	}
	rec := jobRecord{ID: id, Name: parsed.Name(), Spec: spec, SubmittedUnixMs: s.cfg.Clock.Now().UnixMilli(), Pins: map[string]string{}, State: stateRunning}
	if _, _, err := s.build(ctx, &rec, true); err != nil {
		return nil, err
	}
	for _, d := range rec.Pins {
		if !slices.Contains(rec.Uses, d) {
			rec.Uses = append(rec.Uses, d)
		}
	}
	sort.Strings(rec.Uses)
	j := &jobRun{rec: rec}
	// NB: the record is stored before the job starts: a crash right after
	// Submit answers resumes the job.
	if err := s.save(ctx, j); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.jobs[id] = j
	s.mu.Unlock()
	if err := s.start(j); err != nil {
		j.mu.Lock()
		j.rec.State, j.rec.Error = stateFailed, err.Error()
		j.mu.Unlock()
		s.save(ctx, j)
		return nil, err
	}
	s.log.Info("job submitted", "job", id, "modules", rec.Pins)
	return j, nil
}

// maxSpecBytes bounds a submitted job spec.
const maxSpecBytes = 1 << 20

func (s *Server) job(id string) (*jobRun, error) {
	if err := checkJobID(id); err != nil {
		return nil, &validationError{err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j == nil {
		return nil, notFound{fmt.Errorf("no job %q", id)}
	}
	return j, nil
}

func (s *Server) list() []*jobRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*jobRun, 0, len(s.jobs))
	for _, j := range s.jobs {
		out = append(out, j)
	}
	// NB: ID and SubmittedUnixMs never change: no need for j.mu.
	sort.Slice(out, func(a, b int) bool {
		ra, rb := &out[a].rec, &out[b].rec
		return ra.SubmittedUnixMs < rb.SubmittedUnixMs || ra.SubmittedUnixMs == rb.SubmittedUnixMs && ra.ID < rb.ID
	})
	return out
}

// running returns the job's execution, or an error if it is not running.
func (j *jobRun) running() (*runtime.Execution, *runtime.Job, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.x == nil || j.rec.State != stateRunning {
		return nil, nil, fmt.Errorf("job %s is %s: %w", j.rec.ID, j.rec.State, errPrecondition)
	}
	return j.x, j.job, nil
}

var errPrecondition = errors.New("precondition failed")

// Swap swaps operator's module of job j to ref.
func (s *Server) Swap(ctx context.Context, j *jobRun, operator, ref string, migrate bool) (int64, string, error) {
	j.op.Lock()
	defer j.op.Unlock()
	return s.swap(ctx, j, operator, ref, migrate, false)
}

// newModuleFor resolves ref to a module that can take the place of
// operator's module in job j (same ABI version) and returns its digest and
// factory, with the operator's limits.
func (s *Server) newModuleFor(ctx context.Context, j *jobRun, job *runtime.Job, operator, ref string) (string, runtime.OperatorFactory, error) {
	var node *runtime.OperatorNode
	for _, n := range job.Operators {
		if n.Name == operator {
			node = n
		}
	}
	if node == nil {
		var names []string
		for _, n := range job.Operators {
			names = append(names, n.Name)
		}
		return "", nil, notFound{fmt.Errorf("job %s has no operator %q (operators: %s)", j.rec.ID, short(operator), strings.Join(names, ", "))}
	}
	digest, err := s.mods.resolve(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	meta, err := s.mods.meta(ctx, digest)
	if err != nil {
		return "", nil, err
	}
	if cur, err := s.mods.meta(ctx, node.Module); err == nil && cur.ABIVersion != meta.ABIVersion {
		return "", nil, &validationError{fmt.Errorf("module %s implements ABI v%d but operator %q runs ABI v%d", digest, meta.ABIVersion, operator, cur.ABIVersion)}
	}
	j.mu.Lock()
	lim := j.limits[operator]
	j.mu.Unlock()
	f, err := s.factory(ctx, digest, lim)
	if err != nil {
		return "", nil, &validationError{err}
	}
	return digest, f, nil
}

// uses records that job j uses module digest (so it is not deleted) and saves j.
func (s *Server) uses(ctx context.Context, j *jobRun, digest string) error {
	j.mu.Lock()
	if !slices.Contains(j.rec.Uses, digest) {
		j.rec.Uses = append(j.rec.Uses, digest)
	}
	j.mu.Unlock()
	return s.save(ctx, j)
}

// swap is Swap with j.op held; endShadow drops the operator's shadow at the
// swap's barrier (Promote).
func (s *Server) swap(ctx context.Context, j *jobRun, operator, ref string, migrate, endShadow bool) (int64, string, error) {
	x, job, err := j.running()
	if err != nil {
		return 0, "", err
	}
	digest, f, err := s.newModuleFor(ctx, j, job, operator, ref)
	if err != nil {
		return 0, "", err
	}
	// NB: the job uses the new module from before the barrier: a crash after
	// the swap's checkpoint completes restores it, so it must not be deleted.
	if err := s.uses(ctx, j, digest); err != nil {
		return 0, "", err
	}
	id, err := x.SwapModule(ctx, runtime.SwapRequest{Operator: operator, Module: digest, Factory: f, Migrate: migrate, EndShadow: endShadow})
	if err != nil {
		if strings.Contains(err.Error(), "refused") {
			return 0, "", &validationError{err}
		}
		return 0, "", fmt.Errorf("%w: %v", errPrecondition, err)
	}
	s.log.Info("module swapped", "job", j.rec.ID, "operator", operator, "module", digest, "checkpoint", id)
	return id, digest, nil
}

// Cancel ends a job for good; with savepoint, after a final checkpoint that is
// copied to a savepoint.
func (s *Server) Cancel(ctx context.Context, j *jobRun, savepoint bool) (*savepointInfo, error) {
	j.op.Lock()
	defer j.op.Unlock()
	j.mu.Lock()
	x, done, st := j.x, j.done, j.rec.State
	if j.rec.ended() {
		j.mu.Unlock()
		return nil, fmt.Errorf("job %s is %s already: %w", j.rec.ID, st, errPrecondition)
	}
	j.rec.State = stateCancelled
	j.mu.Unlock()
	if err := s.save(ctx, j); err != nil {
		return nil, err
	}
	if x == nil {
		return nil, nil
	}
	if !savepoint {
		j.cancel()
		<-done
		return nil, nil
	}
	x.Stop()
	<-done
	if _, err := x.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("final checkpoint: %w", err)
	}
	return s.writeSavepoint(ctx, j)
}

// TriggerSavepoint takes a checkpoint now and copies it to a savepoint.
func (s *Server) TriggerSavepoint(ctx context.Context, j *jobRun) (*savepointInfo, error) {
	j.op.Lock()
	defer j.op.Unlock()
	x, _, err := j.running()
	if err != nil {
		return nil, err
	}
	if _, err := x.Checkpoint(ctx); err != nil {
		return nil, fmt.Errorf("%w: %v", errPrecondition, err)
	}
	return s.writeSavepoint(ctx, j)
}

type savepointInfo struct {
	ID         string
	Checkpoint int64
	TimeUnixMs int64
}

func (s *Server) writeSavepoint(ctx context.Context, j *jobRun) (*savepointInfo, error) {
	j.mu.Lock()
	store, id := j.store, j.rec.ID
	j.mu.Unlock()
	m, err := runtime.LatestCheckpoint(ctx, store)
	if err != nil {
		return nil, err
	}
	spID := fmt.Sprintf("sp-%d", m.Checkpoint)
	dir := filepath.Join(s.savepointDir(id), spID)
	dst, err := s.cfg.OpenStore(dir)
	if err != nil {
		return nil, err
	}
	if err := runtime.WriteSavepoint(ctx, m, store, s.cfg.State, filepath.Join(s.jobDir(id), "work", "savepoint"), dst); err != nil {
		return nil, fmt.Errorf("write savepoint: %w", err)
	}
	return &savepointInfo{ID: spID, Checkpoint: m.Checkpoint, TimeUnixMs: m.TimeUnixMs}, nil
}

// Rescale stops the job with a final checkpoint and starts it again from there
// at parallelism p.
func (s *Server) Rescale(ctx context.Context, j *jobRun, p int) error {
	j.op.Lock()
	defer j.op.Unlock()
	x, job, err := j.running()
	if err != nil {
		return err
	}
	if p < 1 || p > job.MaxParallelism {
		return &validationError{fmt.Errorf("parallelism %d is outside 1..%d (the job's maxParallelism)", p, job.MaxParallelism)}
	}
	// Check the new graph before stopping anything.
	j.mu.Lock()
	trial := j.rec
	j.mu.Unlock()
	trial.Parallelism = p
	if _, _, err := s.build(ctx, &trial, false); err != nil {
		return err
	}
	j.mu.Lock()
	j.rec.Parallelism, j.rec.State = p, stateRescaling
	done := j.done
	j.mu.Unlock()
	if err := s.save(ctx, j); err != nil {
		return err
	}
	x.Stop()
	<-done
	if _, err := x.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		j.mu.Lock()
		j.rec.State, j.rec.Error = stateFailed, err.Error()
		j.mu.Unlock()
		s.save(ctx, j)
		return err
	}
	if err := s.start(j); err != nil {
		return err
	}
	return s.save(ctx, j)
}

// usedBy lists the jobs not ended that use module digest.
func (s *Server) usedBy(digest string) []string {
	var out []string
	for _, j := range s.list() {
		j.mu.Lock()
		if !j.rec.ended() && slices.Contains(j.rec.Uses, digest) {
			out = append(out, j.rec.ID)
		}
		j.mu.Unlock()
	}
	return out
}

func parallelismOf(job *runtime.Job) map[string]int {
	par := map[string]int{}
	if job == nil {
		return par
	}
	for _, n := range job.Sources {
		par[n.Name] = n.Parallelism
	}
	for _, n := range job.Operators {
		par[n.Name] = n.Parallelism
	}
	for _, n := range job.Sinks {
		par[n.Name] = n.Parallelism
	}
	return par
}

// rateInterval is how often a job's record counters are sampled for rates.
const rateInterval = time.Second

// rateMeter keeps the records per second of each node between the last two
// samples.
type rateMeter struct {
	mu    sync.Mutex
	last  map[string]int64
	at    time.Time
	rates map[string]float64
}

func (m *rateMeter) sample(counts map[string]int64, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last != nil {
		secs := now.Sub(m.at).Seconds()
		m.rates = map[string]float64{}
		for n, c := range counts {
			m.rates[n] = float64(c-m.last[n]) / secs
		}
	}
	m.last, m.at = counts, now
}

func (m *rateMeter) rate(node string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rates[node]
}

package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/weirstream/weir/abi"
)

// driver is what distinguishes the production run (goroutines, channels) from the
// simulation (one goroutine, a seeded scheduler): how channels are made, where
// acknowledgements go, and how background work runs.
type driver interface {
	// newChannel makes a channel; the link is its sending end, the receiver its
	// receiving end as the driver knows it.
	newChannel() (l link, receiver any)
	ack(a ackMsg)
	sourceFinished(id taskID)
	// async runs f in the background (a checkpoint upload).
	async(f func(ctx context.Context))
	// close cancels what the driver runs.
	close()
}

// attempt is one run of a job's graph, from one restored checkpoint (or from
// nothing) until it finishes or fails. A failed attempt is torn down whole and
// a new one is built from the newest complete checkpoint.
type attempt struct {
	job      *Job
	cfg      *Config
	clock    Clock
	log      *slog.Logger
	pool     *bufPool
	drv      driver
	restored *Manifest // nil: a fresh start
	sources  []*sourceTask
	tasks    []*inputTask // operators, then sinks
	// splitNames[source index][split index] names splits in error messages.
	splitNames [][]string
	stats      *Stats

	swapMu        sync.Mutex
	swaps         []*swapPlan     // armed swaps, by barrier
	shadowChanges []*shadowChange // armed shadow starts and stops, by barrier

	// injections are resubmitted dead letters waiting for their operator
	// subtask (dlq.go); injected counts them, for a check without the lock.
	injectMu   sync.Mutex
	injections map[taskID][]*DeadLetter
	injected   atomic.Int64
}

// inject queues resubmitted dead letters for the operator subtasks that run
// them: for a keyed operator the one that owns the key's group, else the one
// of the same index as the subtask that failed.
func (a *attempt) inject(ds []*DeadLetter) {
	if len(ds) == 0 {
		return
	}
	a.injectMu.Lock()
	defer a.injectMu.Unlock()
	if a.injections == nil {
		a.injections = map[taskID][]*DeadLetter{}
	}
	for _, d := range ds {
		i := slices.IndexFunc(a.job.Operators, func(n *OperatorNode) bool { return n.Name == d.Operator })
		if i < 0 {
			a.log.Warn("a resubmitted dead letter's operator is gone from the job; its record is skipped", "id", d.ID, "operator", d.Operator)
			continue
		}
		n := a.job.Operators[i]
		sub := d.Subtask % n.Parallelism
		if len(n.Inputs) > 0 && n.Inputs[0].Partition == KeyBy {
			sub = SubtaskFor(abi.KeyGroup(d.Key, a.job.MaxParallelism), n.Parallelism, a.job.MaxParallelism)
		}
		t := taskID{n.Name, sub}
		a.injections[t] = append(a.injections[t], d)
		a.injected.Add(1)
	}
}

// takeInjections returns and forgets the resubmitted dead letters of subtask t.
func (a *attempt) takeInjections(t taskID) []*DeadLetter {
	if a.injected.Load() == 0 {
		return nil
	}
	a.injectMu.Lock()
	defer a.injectMu.Unlock()
	ds := a.injections[t]
	delete(a.injections, t)
	a.injected.Add(-int64(len(ds)))
	return ds
}

// obs returns the attempt's Observer.
func (a *attempt) obs() Observer {
	if a.cfg.Observer == nil {
		return nopObserver{}
	}
	return a.cfg.Observer
}

func (a *attempt) ack(m ackMsg)            { a.drv.ack(m) }
func (a *attempt) sourceFinished(t taskID) { a.drv.sourceFinished(t) }
func (a *attempt) async(f func(ctx context.Context)) {
	a.drv.async(f)
}

// describeTracking renders where a record with tracking id came from.
func (a *attempt) describeTracking(id uint64) string {
	src, split, seq := int(id>>56)-1, int(id>>40&0xffff), id&(1<<40-1)
	if src < 0 || src >= len(a.splitNames) || split >= len(a.splitNames[src]) {
		return ""
	}
	return fmt.Sprintf("source %q split %q record #%d", a.job.Sources[src].Name, a.splitNames[src][split], seq)
}

// buildAttempt constructs every subtask, restoring from m (nil: from nothing).
// The returned attempt's subtasks are wired but not running. On error, whatever
// was opened is closed again.
func buildAttempt(ctx context.Context, job *Job, cfg *Config, drv driver, m *Manifest, stats *Stats) (_ *attempt, err error) {
	a := &attempt{job: job, cfg: cfg, clock: cfg.Clock, log: cfg.Logger, pool: newBufPool(), drv: drv, restored: m, stats: stats}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if m != nil && m.MaxParallelism != job.MaxParallelism {
		return nil, fmt.Errorf("checkpoint %d has maxParallelism %d but the job has %d; maxParallelism cannot change across restores", m.Checkpoint, m.MaxParallelism, job.MaxParallelism)
	}

	// Subtasks with inputs, and their receiving ends.
	byNode := map[string][]*inputTask{}
	newInputTask := func(name string, i, p int, ins []Input) *inputTask {
		t := &inputTask{taskCommon: taskCommon{id: taskID{name, i}, parallelism: p, at: a, log: a.log.With("node", name, "subtask", i)}}
		byNode[name] = append(byNode[name], t)
		a.tasks = append(a.tasks, t)
		return t
	}
	for _, n := range job.Operators {
		for i := 0; i < n.Parallelism; i++ {
			newInputTask(n.Name, i, n.Parallelism, n.Inputs)
		}
	}
	for _, n := range job.Sinks {
		for i := 0; i < n.Parallelism; i++ {
			newInputTask(n.Name, i, n.Parallelism, n.Inputs)
		}
	}
	// Source subtasks.
	srcByNode := map[string][]*sourceTask{}
	for si, n := range job.Sources {
		for i := 0; i < n.Parallelism; i++ {
			s := &sourceTask{taskCommon: taskCommon{id: taskID{n.Name, i}, parallelism: n.Parallelism, at: a, log: a.log.With("node", n.Name, "subtask", i)},
				node: n, nodeIdx: si, wm: minWatermark(), counter: stats.counter(n.Name)}
			a.sources = append(a.sources, s)
			srcByNode[n.Name] = append(srcByNode[n.Name], s)
		}
	}
	commons := func(name string) []*taskCommon {
		var out []*taskCommon
		for _, s := range srcByNode[name] {
			out = append(out, &s.taskCommon)
		}
		for _, t := range byNode[name] {
			out = append(out, &t.taskCommon)
		}
		return out
	}

	// Channels: for each input edge, one channel per (upstream, downstream) pair
	// that the partitioning connects.
	wire := func(name string, ins []Input) {
		down := byNode[name]
		for _, in := range ins {
			ups := commons(in.From)
			for ui, up := range ups {
				var targets []link
				for di, d := range down {
					if in.Partition == Forward && di != ui {
						continue
					}
					l, recv := drv.newChannel()
					if cl, ok := l.(chanLink); ok && cfg.Observer != nil {
						l = cl.measured(&blockTimer{job: job.Name, node: up.id.node, subtask: up.id.subtask, obs: cfg.Observer})
					}
					d.receivers = append(d.receivers, recv)
					d.wms = append(d.wms, minWatermark())
					d.blocked = append(d.blocked, false)
					targets = append(targets, l)
				}
				for len(up.outs) <= in.Port {
					up.outs = append(up.outs, nil)
				}
				if up.outs[in.Port] == nil {
					up.outs[in.Port] = &output{}
				}
				up.outs[in.Port].edges = append(up.outs[in.Port].edges, newOutEdge(in.Partition, targets, job.MaxParallelism, cfg.BatchRecords, a.pool))
			}
		}
	}
	for _, n := range job.Operators {
		wire(n.Name, n.Inputs)
	}
	for _, n := range job.Sinks {
		wire(n.Name, n.Inputs)
	}
	for _, t := range a.tasks {
		t.wm = minWatermark()
	}

	// Sources: assign splits round-robin and open them at their positions.
	a.splitNames = make([][]string, len(job.Sources))
	for si, n := range job.Sources {
		splits, err := n.Source.Splits(ctx)
		if err != nil {
			return nil, fmt.Errorf("source %q: list splits: %w", n.Name, err)
		}
		a.splitNames[si] = splits
		var snap *SourceSnapshot
		if m != nil {
			snap = m.Sources[n.Name]
		}
		for i, id := range splits {
			s := srcByNode[n.Name][i%n.Parallelism]
			sp := &splitState{id: id, index: i, maxTs: minWatermark()}
			var pos []byte
			if snap != nil {
				st, ok := snap.Splits[id]
				if ok {
					pos, sp.records, sp.finished = st.Position, st.Records, st.Finished
				}
			}
			if sp.finished {
				sp.position = pos
			} else {
				r, err := n.Source.Open(ctx, id, pos, SourceEnv{Clock: a.clock, Logger: s.log})
				if err != nil {
					return nil, fmt.Errorf("source %q: open split %q: %w", n.Name, id, err)
				}
				sp.reader = r
			}
			s.splits = append(s.splits, sp)
		}
		if snap != nil {
			for id := range snap.Splits {
				if !contains(splits, id) {
					a.log.Warn("a split in the checkpoint is gone from the source; its remaining records are skipped", "source", n.Name, "split", id)
				}
			}
		}
	}

	// Operators: instances, state and timers.
	var live map[string]string
	if m != nil {
		live = m.LiveModules()
	}
	for _, n := range job.Operators {
		keyed := len(n.Inputs) > 0 && n.Inputs[0].Partition == KeyBy
		var snap *OperatorSnap
		if m != nil {
			snap = m.Operators[n.Name]
		}
		factory := n.Factory
		var canary *Canary // restored with the checkpoint (canary.go)
		var canaryFactory OperatorFactory
		if m != nil {
			canary = canaryOf(m.Modules, n.Name)
		}
		if canary != nil {
			if cfg.Modules == nil {
				return nil, fmt.Errorf("operator %q: checkpoint %d runs a canary of module %s, and no module resolver is configured", n.Name, m.Checkpoint, canary.Module)
			}
			f, err := cfg.Modules.ResolveModule(ctx, n.Name, canary.Module)
			if err != nil {
				return nil, fmt.Errorf("operator %q: checkpoint %d runs a canary of module %s: %w", n.Name, m.Checkpoint, canary.Module, err)
			}
			canaryFactory = f
		}
		if mod, ok := live[n.Name]; ok && mod != n.Module {
			if cfg.Modules == nil {
				a.log.Info("the restored checkpoint was running another module for this operator; running the job's", "operator", n.Name, "checkpoint", m.Checkpoint, "checkpointModule", mod, "jobModule", n.Module)
			} else {
				f, err := cfg.Modules.ResolveModule(ctx, n.Name, mod)
				if err != nil {
					return nil, fmt.Errorf("operator %q: checkpoint %d runs it on module %s: %w", n.Name, m.Checkpoint, mod, err)
				}
				factory = f
			}
		}
		for i, t := range byNode[n.Name] {
			p := &operatorProc{t: t, node: n, keyed: keyed, counter: stats.counter(n.Name), module: n.Module}
			if mod, ok := live[n.Name]; ok {
				p.module = mod
			}
			p.env.p = p
			if n.Journal {
				p.jbuf = &journalBuf{}
			}
			if cfg.shadows != nil {
				p.shadowRun = cfg.shadows.slots[n.Name].Load()
			}
			t.proc = p
			op, err := factory.NewOperator(ctx, OperatorInfo{Job: job.Name, Name: n.Name, Subtask: i, Parallelism: n.Parallelism, Keyed: keyed, Config: n.Config, Logger: t.log})
			if err != nil {
				return nil, fmt.Errorf("operator %s: start: %w", t.id, err)
			}
			p.op = op
			if canaryFactory != nil {
				cop, err := canaryFactory.NewOperator(ctx, OperatorInfo{Job: job.Name, Name: n.Name, Subtask: i, Parallelism: n.Parallelism, Keyed: keyed, Config: n.Config, Logger: t.log})
				if err != nil {
					return nil, fmt.Errorf("operator %s: start the canary of module %s: %w", t.id, canary.Module, err)
				}
				p.canary = newCanarySub(cop, canary.Module, canary.KeyGroups, job.MaxParallelism)
			}
			if !keyed {
				if n.OnFailure.isolates() {
					p.tx = newTxState(nil) // no state: only the emits are held back
				}
				continue
			}
			if cfg.State == nil {
				return nil, fmt.Errorf("operator %q is keyed but no state backend is configured", n.Name)
			}
			kgs := KeyGroupsFor(i, n.Parallelism, job.MaxParallelism)
			var restore []StateHandle
			if snap != nil {
				for _, h := range snap.State {
					if h.KeyGroups.Intersects(kgs) {
						restore = append(restore, h)
					}
				}
			}
			backendRestore := restore
			if cfg.fromSavepoint {
				backendRestore = nil // loaded below from the portable format
			}
			b, err := cfg.State.Open(ctx, BackendConfig{
				Dir:        filepath.Join(cfg.WorkDir, "state", job.Name, n.Name, fmt.Sprint(i)),
				KeyGroups:  kgs,
				Restore:    backendRestore,
				Store:      cfg.Store,
				Prefix:     statePrefix + n.Name + "/",
				CacheBytes: cfg.StateCacheBytes,
				Logger:     t.log,
			})
			if err != nil {
				return nil, fmt.Errorf("operator %s: open state: %w", t.id, err)
			}
			p.backend = b
			if cfg.fromSavepoint {
				if err := loadSavepointState(ctx, cfg.Savepoint, restore, kgs, b); err != nil {
					return nil, fmt.Errorf("operator %s: load savepoint state: %w", t.id, err)
				}
			}
			p.state = b
			if n.OnFailure.isolates() {
				p.tx = newTxState(b)
				p.state = p.tx
			}
			p.timers = newTimerService(p.state, kgs, namespaceTimers)
			p.callExpiry = newTimerService(p.state, kgs, namespaceCallExpiry)
		}
	}

	// Sinks: recover to the restored checkpoint, then open the writers.
	if ta, ok := job.Acks.(TimingAware); ok {
		ta.SetJobTiming(job.timing()) // the ack target deduplicates redeliveries too
	}
	for _, n := range job.Sinks {
		var id int64
		var committables [][]byte
		if m != nil {
			id = m.Checkpoint
			if s := m.Sinks[n.Name]; s != nil && !cfg.fromSavepoint {
				committables = s.Committables
			}
		}
		if ta, ok := n.Sink.(TimingAware); ok {
			ta.SetJobTiming(job.timing())
		}
		if err := n.Sink.Recover(ctx, id, committables); err != nil {
			return nil, fmt.Errorf("sink %q: recover to checkpoint %d: %w", n.Name, id, err)
		}
		for i, t := range byNode[n.Name] {
			w, err := n.Sink.OpenWriter(ctx, SinkInfo{Job: job.Name, Name: n.Name, Subtask: i, Parallelism: n.Parallelism, Logger: t.log})
			if err != nil {
				return nil, fmt.Errorf("sink %s: open writer: %w", t.id, err)
			}
			t.proc = &sinkProc{t: t, writer: w, counter: stats.counter(n.Name)}
		}
	}
	return a, nil
}

// statePrefix is where state backends upload their files in the snapshot store.
const statePrefix = "state/"

func minWatermark() int64 { return -1 << 63 }

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// close releases every subtask of the attempt. It must run only when no subtask
// goroutine and no upload is running.
func (a *attempt) close() {
	for _, p := range a.swaps {
		p.closeUntaken()
	}
	for _, s := range a.sources {
		s.close()
	}
	for _, t := range a.tasks {
		if t.proc != nil {
			t.proc.close()
		}
	}
}

// numTasks is the number of subtasks that acknowledge each checkpoint.
func (a *attempt) numTasks() int { return len(a.sources) + len(a.tasks) }

// Stats counts records per node, for progress reports. It is safe for
// concurrent use.
type Stats struct {
	nodes map[string]*atomic.Int64
	order []string
}

func newStats(job *Job) *Stats {
	s := &Stats{nodes: map[string]*atomic.Int64{}}
	for _, n := range job.Sources {
		s.nodes[n.Name] = new(atomic.Int64)
		s.order = append(s.order, n.Name)
	}
	for _, n := range job.Sinks {
		s.nodes[n.Name] = new(atomic.Int64)
		s.order = append(s.order, n.Name)
	}
	for _, n := range job.Operators {
		s.nodes[n.Name] = new(atomic.Int64)
	}
	sort.Strings(s.order)
	return s
}

func (s *Stats) counter(node string) *atomic.Int64 { return s.nodes[node] }

// Records returns how many records each source has read, each operator has
// emitted and each sink has written, over every attempt (replayed records
// count again).
func (s *Stats) Records() map[string]int64 {
	out := make(map[string]int64, len(s.nodes))
	for n, c := range s.nodes {
		out[n] = c.Load()
	}
	return out
}

var errNoCheckpoint = errors.New("no checkpoint")

var discardLog = slog.New(slog.DiscardHandler)

package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirstream/weir/abi"
)

// Input journals and deterministic replay.
//
// An operator with Journal set records every batch it runs (records, fired
// timers, resubmitted dead letters), with the header it ran with: the
// watermark and the processing time, which is pinned for the batch. The
// batches between barrier c-1 and barrier c of a subtask are one segment,
// uploaded with checkpoint c and listed in its manifest (Journals), so the
// journal is checkpoint-aligned: checkpoint N's state plus the segments of the
// checkpoints after N are exactly what the operator ran after N. It is
// bounded like the checkpoints themselves: the store keeps the segments of
// retained checkpoints only (Checkpoint.Retain), and a segment holds at most
// MaxJournalBytes; past that it is marked truncated and replay refuses to run
// through it.
//
// Replay restores the operator's state from checkpoint N into a scratch
// directory, runs the recorded batches through a fresh instance in their
// order, per subtask, and hands out what it emits: with the modules of the
// job's module history (swaps and canaries included) that is the output the
// job ran, byte for byte; with another module it is what that module would
// have emitted. Replay never touches the job's state, store objects or output.

// MaxJournalBytes bounds one subtask's journal segment (the input it ran
// between two checkpoint barriers).
const MaxJournalBytes = 256 << 20

// journalPrefix is where journal segments are stored in the snapshot store.
const journalPrefix = "journal/"

// JournalSegment is one subtask's recorded input between two barriers.
type JournalSegment struct {
	// Checkpoint is the barrier that ended the segment: the segment's
	// checkpoint, or an abandoned one before it.
	Checkpoint int64  `json:"checkpoint"`
	Object     string `json:"object,omitempty"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256,omitempty"`
	Batches    int    `json:"batches"`
	// Truncated: the segment outgrew MaxJournalBytes, or could not be stored.
	Truncated bool `json:"truncated,omitempty"`
}

// journalBuf collects a subtask's segment: frames of a u32 length and a batch.
type journalBuf struct {
	buf       []byte
	batches   int
	truncated bool
}

func (j *journalBuf) add(b []byte) {
	if j.truncated {
		return
	}
	if len(j.buf)+4+len(b) > MaxJournalBytes {
		j.truncated, j.buf = true, nil
		return
	}
	j.buf = binary.LittleEndian.AppendUint32(j.buf, uint32(len(b)))
	j.buf = append(j.buf, b...)
	j.batches++
}

// journal records batch b, whose header it sets (and pins: the call sees the
// same processing time), if the operator keeps a journal.
func (p *operatorProc) journal(b []byte) {
	if p.jbuf == nil {
		return
	}
	now := p.now()
	abi.SetHeader(b, p.t.wm, now)
	p.pinnedNow = now
	p.jbuf.add(b)
}

// takeJournal returns the segment recorded since the last barrier and starts
// the next one (nil: no journal).
func (p *operatorProc) takeJournal() *journalBuf {
	if p.jbuf == nil {
		return nil
	}
	j := p.jbuf
	p.jbuf = &journalBuf{}
	return j
}

// put stores the segment that ends at barrier id of subtask t.
func (j *journalBuf) put(ctx context.Context, store SnapshotStore, t taskID, id int64) (JournalSegment, error) {
	seg := JournalSegment{Checkpoint: id, Batches: j.batches, Truncated: j.truncated}
	if j.truncated {
		return seg, nil
	}
	var nonce [4]byte
	_, _ = rand.Read(nonce[:])
	seg.Object = fmt.Sprintf("%s%s/%d/%d-%x", journalPrefix, t.node, t.subtask, id, nonce)
	sum := sha256.Sum256(j.buf)
	seg.Size, seg.SHA256 = int64(len(j.buf)), hex.EncodeToString(sum[:])
	if err := store.Put(ctx, seg.Object, bytes.NewReader(j.buf)); err != nil {
		return seg, fmt.Errorf("store the input journal of %s: %w", t, err)
	}
	return seg, nil
}

// readSegment returns the batches of seg.
func readSegment(ctx context.Context, store SnapshotStore, seg JournalSegment) ([][]byte, error) {
	r, err := store.Get(ctx, seg.Object)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, MaxJournalBytes+1))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if int64(len(data)) != seg.Size || hex.EncodeToString(sum[:]) != seg.SHA256 {
		return nil, fmt.Errorf("journal segment %s: %w: %d bytes, sha256 %x; the manifest says %d bytes, %s", seg.Object, ErrCorruptSnapshot, len(data), sum, seg.Size, seg.SHA256)
	}
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 4 {
			return nil, fmt.Errorf("journal segment %s: %w: a frame header is cut short", seg.Object, ErrCorruptSnapshot)
		}
		n := int(binary.LittleEndian.Uint32(data))
		if n > len(data)-4 {
			return nil, fmt.Errorf("journal segment %s: %w: a frame of %d bytes overruns the segment", seg.Object, ErrCorruptSnapshot, n)
		}
		out = append(out, data[4:4+n])
		data = data[4+n:]
	}
	if len(out) != seg.Batches {
		return nil, fmt.Errorf("journal segment %s: %w: %d batches, the manifest says %d", seg.Object, ErrCorruptSnapshot, len(out), seg.Batches)
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// Replay

// ReplayConfig is where Replay finds a job's checkpoints and modules.
type ReplayConfig struct {
	Store   SnapshotStore       // the job's snapshot store
	State   StateBackendFactory // opens the restored state
	WorkDir string              // scratch space for the restored state (emptied)
	// Modules resolves the module history's modules (when no Factory is given).
	Modules ModuleResolver
	Logger  *slog.Logger
}

// ReplayRequest says what to replay.
type ReplayRequest struct {
	Operator string
	// From is the retained checkpoint whose state replay starts from; it runs
	// the input journaled after it, up to the newest checkpoint.
	From int64
	// Factory, when set, runs instead of the modules the job ran.
	Factory OperatorFactory
}

// ReplayOutput is one batch the replayed operator emitted.
type ReplayOutput struct {
	Checkpoint int64 // the checkpoint whose input (after the barrier before it) produced it
	Subtask    int
	Port       int
	Batch      []byte // valid until the callback returns; entries carry their input's tracking id
}

// ReplayStats says what a replay ran.
type ReplayStats struct {
	From, To int64 // checkpoints: the state of From, the input up to To
	Batches  int64 // input batches run
	Records  int64 // input entries run (records and timers)
	Emitted  int64 // entries emitted
}

// Replay re-runs req.Operator of job from a retained checkpoint's state on
// the input journaled after it and calls out with what it emits, subtask by
// subtask, in the order emitted.
func Replay(ctx context.Context, job *Job, cfg ReplayConfig, req ReplayRequest, out func(ReplayOutput) error) (ReplayStats, error) {
	job.WithDefaults()
	node := job.operator(req.Operator)
	if node == nil {
		return ReplayStats{}, fmt.Errorf("job %q has no operator %q", job.Name, req.Operator)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ids, _, err := listCheckpoints(ctx, cfg.Store)
	if err != nil {
		return ReplayStats{}, err
	}
	slices.Sort(ids) // oldest first: the order the input ran in
	if !slices.Contains(ids, req.From) {
		if len(ids) == 0 {
			return ReplayStats{}, fmt.Errorf("checkpoint %d is not retained: the job has no complete checkpoint", req.From)
		}
		return ReplayStats{}, fmt.Errorf("checkpoint %d is not retained (the oldest retained is %d, the newest %d; checkpoint.retain keeps more); replay starts from a retained checkpoint", req.From, ids[0], ids[len(ids)-1])
	}
	from, err := ReadManifest(ctx, cfg.Store, manifestObject(req.From))
	if err != nil {
		return ReplayStats{}, err
	}
	// The checkpoints after From, each with every subtask's segments.
	var epochs []*Manifest
	for _, id := range ids {
		if id <= req.From {
			continue
		}
		m, err := ReadManifest(ctx, cfg.Store, manifestObject(id))
		if err != nil {
			return ReplayStats{}, err
		}
		js, ok := m.Journals[req.Operator]
		switch {
		case !ok:
			return ReplayStats{}, fmt.Errorf("checkpoint %d has no input journal of operator %q: set journal: true on it in the job spec (it is recorded from the checkpoint after the job starts with it)", id, req.Operator)
		case len(epochs) > 0 && len(js) != len(epochs[0].Journals[req.Operator]):
			return ReplayStats{}, fmt.Errorf("operator %q was rescaled at checkpoint %d (%d subtasks, %d before): replay from %d or later", req.Operator, id, len(js), len(epochs[0].Journals[req.Operator]), id)
		}
		for i, segs := range js {
			for _, s := range segs {
				if s.Truncated {
					return ReplayStats{}, fmt.Errorf("the input journal of %s/%d in checkpoint %d is truncated (over %d bytes between two barriers): replay from %d or later", req.Operator, i, id, MaxJournalBytes, id)
				}
			}
		}
		epochs = append(epochs, m)
	}
	if len(epochs) == 0 {
		return ReplayStats{}, fmt.Errorf("no checkpoint after %d: there is no journaled input to replay", req.From)
	}
	par := len(epochs[0].Journals[req.Operator])
	if s := from.Operators[req.Operator]; s != nil && s.Parallelism != par {
		return ReplayStats{}, fmt.Errorf("operator %q ran %d subtasks at checkpoint %d and %d after it (rescaled): replay from %d or later", req.Operator, s.Parallelism, req.From, par, epochs[0].Checkpoint)
	}
	st := ReplayStats{From: req.From, To: epochs[len(epochs)-1].Checkpoint}
	for i := range par {
		if err := replaySubtask(ctx, job, node, cfg, req, from, epochs, i, par, out, &st); err != nil {
			return st, fmt.Errorf("replay of %s/%d: %w", req.Operator, i, err)
		}
	}
	return st, nil
}

// replayLink collects what the replayed subtask emits.
type replayLink struct {
	port int
	emit func(port int, b []byte) error
}

func (l *replayLink) send(m message) error {
	if m.kind != msgBatch {
		return nil
	}
	return l.emit(l.port, m.batch)
}

func replaySubtask(ctx context.Context, job *Job, node *OperatorNode, cfg ReplayConfig, req ReplayRequest, from *Manifest, epochs []*Manifest, sub, par int, out func(ReplayOutput) error, st *ReplayStats) error {
	log := cfg.Logger.With("operator", node.Name, "subtask", sub)
	a := &attempt{job: job, cfg: &Config{BatchRecords: DefaultBatchRecords}, log: log, pool: newBufPool(), restored: from}
	clk := &replayClock{}
	a.clock = clk
	t := &inputTask{taskCommon: taskCommon{id: taskID{node.Name, sub}, parallelism: par, at: a, log: log}}
	// NB: one output per port the job wires, each to a collecting link.
	checkpoint := int64(0)
	emit := func(port int, b []byte) error {
		st.Emitted += int64(abi.Count(b))
		return out(ReplayOutput{Checkpoint: checkpoint, Subtask: sub, Port: port, Batch: b})
	}
	for port := 0; port <= abi.MaxPort; port++ {
		t.outs = append(t.outs, &output{edges: []*outEdge{newOutEdge(Forward, []link{&replayLink{port: port, emit: emit}}, job.MaxParallelism, DefaultBatchRecords, a.pool)}})
	}
	keyed := len(node.Inputs) > 0 && node.Inputs[0].Partition == KeyBy
	p := &operatorProc{t: t, node: node, keyed: keyed, counter: new(atomic.Int64), replaying: true}
	p.env.p = p
	t.proc = p
	defer func() {
		if p.op == nil {
			p.op = nopOperator{} // close closes it
		}
		p.close()
	}()

	// Each epoch runs the modules its checkpoint's history names for it.
	var running string
	instance := func(module string) (Operator, error) {
		f := req.Factory
		if f == nil && module == node.Module && node.Factory != nil {
			f = node.Factory // the job's own module (or one without an id)
		}
		if f == nil {
			if cfg.Modules == nil {
				return nil, errors.New("no module resolver to run the job's modules")
			}
			var err error
			if f, err = cfg.Modules.ResolveModule(ctx, node.Name, module); err != nil {
				return nil, fmt.Errorf("module %s: %w", module, err)
			}
		}
		return f.NewOperator(ctx, OperatorInfo{Job: job.Name, Name: node.Name, Subtask: sub, Parallelism: par, Keyed: keyed, Config: node.Config, Logger: log})
	}
	if keyed {
		kgs := KeyGroupsFor(sub, par, job.MaxParallelism)
		var restore []StateHandle
		if snap := from.Operators[node.Name]; snap != nil {
			for _, h := range snap.State {
				if h.KeyGroups.Intersects(kgs) {
					restore = append(restore, h)
				}
			}
		}
		b, err := cfg.State.Open(ctx, BackendConfig{Dir: filepath.Join(cfg.WorkDir, node.Name, fmt.Sprint(sub)), KeyGroups: kgs, Restore: restore, Store: cfg.Store, Prefix: statePrefix + node.Name + "/", Logger: log})
		if err != nil {
			return fmt.Errorf("restore the state of checkpoint %d: %w", from.Checkpoint, err)
		}
		p.backend, p.state = b, b
		if node.OnFailure.isolates() {
			p.tx = newTxState(b)
			p.state = p.tx
		}
		p.timers = newTimerService(p.state, kgs, namespaceTimers)
		p.callExpiry = newTimerService(p.state, kgs, namespaceCallExpiry)
	} else if node.OnFailure.isolates() {
		p.tx = newTxState(nil)
	}
	for e, m := range epochs {
		// The batches of checkpoint c ran under the history as of barrier c-1.
		hist := from.Modules
		if e > 0 {
			hist = epochs[e-1].Modules
		}
		live, canary := node.Module, (*Canary)(nil)
		if mod, ok := liveOf(hist)[node.Name]; ok {
			live = mod
		}
		if req.Factory == nil {
			canary = canaryOf(hist, node.Name)
		}
		if p.op == nil || (req.Factory == nil && live != running) {
			op, err := instance(live)
			if err != nil {
				return err
			}
			if p.op != nil {
				p.op.Close()
			}
			p.op, running, p.module = op, live, live
		}
		switch {
		case canary == nil:
			p.closeCanary()
		case p.canary == nil || p.canary.module != canary.Module:
			p.closeCanary()
			op, err := instance(canary.Module)
			if err != nil {
				return err
			}
			p.canary = newCanarySub(op, canary.Module, canary.KeyGroups, job.MaxParallelism)
		}
		checkpoint = m.Checkpoint
		for _, seg := range m.Journals[node.Name][sub] {
			batches, err := readSegment(ctx, cfg.Store, seg)
			if err != nil {
				return err
			}
			for _, rec := range batches {
				b := append(a.pool.get()[:0], rec...)
				t.wm = abi.Watermark(b)
				clk.ms = abi.ProcessingTime(b)
				st.Batches++
				st.Records += int64(abi.Count(b))
				err := p.replayBatch(ctx, b)
				a.pool.put(b)
				if err != nil {
					return fmt.Errorf("checkpoint %d: %w", m.Checkpoint, err)
				}
			}
		}
		if err := t.outs.flush(); err != nil {
			return err
		}
	}
	return nil
}

// replayBatch runs one journaled batch as the job ran it: fired timers as
// timers, the rest as records.
func (p *operatorProc) replayBatch(ctx context.Context, b []byte) error {
	if e, ok := abi.EntryAt(b, 0); ok && e.Kind != abi.KindRecord {
		return p.process(ctx, b)
	}
	return p.liveRecords(ctx, b)
}

// replayClock is the processing time of the batch being replayed.
type replayClock struct{ ms int64 }

func (c *replayClock) Now() time.Time { return time.UnixMilli(c.ms) }

type nopOperator struct{}

func (nopOperator) Process(context.Context, []byte, Env) error { return nil }
func (nopOperator) Close() error                               { return nil }

// ackSeq hands acknowledgements on in the order their slots were taken, each
// as soon as it and every one before it are ready. It never blocks a caller
// waiting for another: the simulation runs asynchronous work one function at
// a time, in any order, and the real driver may end uploads in any order.
type ackSeq struct {
	mu    sync.Mutex
	taken uint64            // slots handed out
	sent  uint64            // slots whose acknowledgement went on
	ready map[uint64]ackMsg // finished, waiting on an earlier slot
}

// next takes the next slot and returns the function that fills it; send
// receives the acknowledgements, in slot order.
func (q *ackSeq) next(send func(ackMsg)) func(ackMsg) {
	q.mu.Lock()
	slot := q.taken
	q.taken++
	q.mu.Unlock()
	return func(m ackMsg) {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.ready == nil {
			q.ready = map[uint64]ackMsg{}
		}
		q.ready[slot] = m
		for {
			m, ok := q.ready[q.sent]
			if !ok {
				return
			}
			delete(q.ready, q.sent)
			q.sent++
			send(m) // NB: under the lock, so that two fillers cannot reorder
		}
	}
}

package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Defaults and limits of the sink.
const (
	// DefaultTransactionTimeout is the default of transactionTimeout: the
	// broker's default transaction.max.timeout.ms, the longest it allows.
	DefaultTransactionTimeout = 15 * time.Minute
	// maxPrefixBytes bounds transactionalIdPrefix, so that ids stay short in
	// the broker's transaction log.
	maxPrefixBytes = 200
	// coordinatorTimeout bounds the retries of one EndTxn or InitProducerID
	// while the transaction coordinator is busy (CONCURRENT_TRANSACTIONS
	// while it writes markers, loading after a restart): past it the call
	// fails and the runtime retries Commit, or restarts the job.
	coordinatorTimeout = 2 * time.Minute
	// closeAbortTimeout bounds the abort of an open, not pre-committed
	// transaction when a writer closes; Recover aborts what it leaves.
	closeAbortTimeout = 10 * time.Second
)

// SinkOptions are the options of the kafka sink in a job spec (see doc.go).
type SinkOptions struct {
	ConnOptions
	// TransactionalIDPrefix starts the transactional id of every
	// transaction the sink opens (default weir-<job>-<sink>).
	TransactionalIDPrefix string `json:"transactionalIdPrefix"`
	// TransactionTimeout is the producer's transaction.timeout.ms: the
	// broker aborts a transaction open longer (default 15m).
	TransactionTimeout string `json:"transactionTimeout"`
}

// Sink writes records to a topic exactly once: each sink subtask writes the
// records between two checkpoint barriers in one Kafka transaction, flushes it
// at the barrier (PreCommit) and ends it with a commit when the checkpoint is
// complete (Commit), from the transaction's (transactional id, producer id,
// epoch), so that a restarted process commits it too (see doc.go and
// docs/RATIONALE.md). It is safe for concurrent use.
type Sink struct {
	brokers []string
	topic   string
	timeout time.Duration

	mu       sync.Mutex
	prefix   string // "" until set by the option or BindJob
	restored int64  // the checkpoint the last Recover restored: names this attempt's ids
	// used holds the transactional ids of this attempt that may not be
	// opened again yet: -1 while open or pre-committed, else the checkpoint
	// whose Commit committed it. An id is reused only after a later
	// checkpoint completes, because until then a restore may hand its
	// committable to Recover, which must find its transaction as it left it.
	used         map[string]int64
	admin        *kgo.Client
	brokerMaxTxn time.Duration // the broker's transaction.max.timeout.ms, once read
}

var (
	_ runtime.Sink      = (*Sink)(nil)
	_ runtime.JobBinder = (*Sink)(nil)
)

// committable is what PreCommit returns for one transaction: enough to end it
// from any process.
type committable struct {
	TxnID      string `json:"txn"`
	ProducerID int64  `json:"pid"`
	Epoch      int16  `json:"epoch"`
	Checkpoint int64  `json:"checkpoint"` // the barrier that pre-committed it
	Records    int64  `json:"records"`
}

// NewSink returns the kafka sink that the JSON options opts describe. An
// unknown option or a bad value gives an error that names the option. It does
// not connect: Recover and OpenWriter do.
func NewSink(opts json.RawMessage, _ string) (runtime.Sink, error) {
	var o SinkOptions
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("kafka sink: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	brokers := o.ConnOptions.resolve(bad)
	if err := checkPrefix(o.TransactionalIDPrefix); o.TransactionalIDPrefix != "" && err != nil {
		bad("transactionalIdPrefix", "%v", err)
	}
	timeout := parseDuration(bad, "transactionTimeout", o.TransactionTimeout, DefaultTransactionTimeout)
	if timeout%time.Millisecond != 0 || timeout > time.Duration(1<<31-1)*time.Millisecond {
		bad("transactionTimeout", "%v is not a whole number of milliseconds up to 2^31-1 ms", timeout)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Sink{brokers: brokers, topic: o.Topic, timeout: timeout, prefix: o.TransactionalIDPrefix}, nil
}

// checkPrefix allows letters, digits, '.', '_' and '-', so that an id reads
// the same in every tool that lists transactions.
func checkPrefix(p string) error {
	if p == "" {
		return errors.New("is empty")
	}
	if len(p) > maxPrefixBytes {
		return fmt.Errorf("%q is longer than %d bytes", p, maxPrefixBytes)
	}
	for _, c := range []byte(p) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%q has %q; use letters, digits, '.', '_' and '-'", p, c)
		}
	}
	return nil
}

// BindJob names the sink's transactions after the job and the sink (unless
// transactionalIdPrefix is set), and rejects a job whose checkpoints can keep
// a transaction open past transactionTimeout.
func (s *Sink) BindJob(job *runtime.Job, node string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prefix == "" {
		p := "weir-" + job.Name + "-" + node
		if err := checkPrefix(p); err != nil {
			return fmt.Errorf("kafka sink: the default transactionalIdPrefix weir-<job>-<sink> %v; set option transactionalIdPrefix", err)
		}
		s.prefix = p
	}
	// A transaction opens just after one barrier and is pre-committed at the
	// next, one interval later; its checkpoint may take up to the checkpoint
	// timeout to complete, and after a failure the restarted job commits it
	// in Recover, after the restart delay.
	c := job.Checkpoint
	open := c.Interval + c.Timeout + job.Restart.Delay
	if open >= s.timeout {
		return fmt.Errorf("kafka sink: option transactionTimeout: %v is not longer than checkpoint.interval %v + checkpoint.timeout %v + restart.delay %v = %v, the time a transaction may wait for its commit; the broker would abort it first. Raise transactionTimeout (up to the broker's transaction.max.timeout.ms) or lower those",
			s.timeout, c.Interval, c.Timeout, job.Restart.Delay, open)
	}
	return nil
}

// txnID is the transactional id of a subtask's k-th id of this attempt.
func (s *Sink) txnID(subtask int, k int) string {
	return fmt.Sprintf("%s-%d-%d-%d", s.prefix, subtask, s.restored, k)
}

// ownID reports whether id is one of the sink's: the prefix, then subtask,
// restored checkpoint and index, so that a sink whose prefix extends this one
// ("weir-job-out" and "weir-job-out-2") is not taken for it.
func (s *Sink) ownID(id string) bool {
	rest, ok := strings.CutPrefix(id, s.prefix+"-")
	if !ok {
		return false
	}
	parts := strings.Split(rest, "-")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 63); err != nil {
			return false
		}
	}
	return true
}

// Close closes the client of Commit and Recover; the next one opens it
// again. The writers' transactional clients are theirs to close.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin != nil {
		s.admin.Close()
		s.admin = nil
	}
	return nil
}

// control returns the client for Commit and Recover, opening it once.
func (s *Sink) control() (*kgo.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin != nil {
		return s.admin, nil
	}
	cl, err := kgo.NewClient(clientOpts(s.brokers)...)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	s.admin = cl
	return cl, nil
}

// Recover commits the restored checkpoint's transactions, then aborts every
// other open transaction of the sink's prefix (any subtask, any earlier
// attempt or parallelism), fencing their producers.
func (s *Sink) Recover(ctx context.Context, checkpointID int64, committables [][]byte) error {
	s.mu.Lock()
	if s.prefix == "" {
		s.mu.Unlock()
		return errors.New("kafka sink: option transactionalIdPrefix: required when the sink is not built from a job spec (which defaults it to weir-<job>-<sink>)")
	}
	s.restored = checkpointID
	s.used = map[string]int64{}
	s.mu.Unlock()
	cl, err := s.control()
	if err != nil {
		return err
	}
	if err := s.checkBrokerTimeout(ctx, cl); err != nil {
		return err
	}
	if err := s.commitAll(ctx, cl, checkpointID, committables); err != nil {
		return err
	}
	return s.abortOpen(ctx, cl)
}

// checkBrokerTimeout refuses a transactionTimeout above the broker's
// transaction.max.timeout.ms (the broker would refuse every producer).
func (s *Sink) checkBrokerTimeout(ctx context.Context, cl *kgo.Client) error {
	if s.brokerMaxTxn > 0 {
		return nil
	}
	adm := kadm.NewClient(cl)
	bs, err := adm.ListBrokers(ctx)
	if err != nil || len(bs) == 0 {
		return fmt.Errorf("kafka sink: list brokers: %v", err)
	}
	rcs, err := adm.DescribeBrokerConfigs(ctx, bs[0].NodeID)
	if err != nil {
		return fmt.Errorf("kafka sink: describe the configuration of broker %d: %w", bs[0].NodeID, err)
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key != "transaction.max.timeout.ms" || c.Value == nil {
				continue
			}
			ms, err := strconv.ParseInt(*c.Value, 10, 64)
			if err != nil {
				return fmt.Errorf("kafka sink: broker %d: transaction.max.timeout.ms %q: %v", bs[0].NodeID, *c.Value, err)
			}
			max := time.Duration(ms) * time.Millisecond
			if s.timeout > max {
				return fmt.Errorf("kafka sink: option transactionTimeout: %v is longer than the broker's transaction.max.timeout.ms (%v), so the broker refuses the sink's producers; lower it, or raise the broker's setting", s.timeout, max)
			}
			s.brokerMaxTxn = max
			return nil
		}
	}
	s.brokerMaxTxn = s.timeout // not reported: the first producer will tell
	return nil
}

// abortOpen aborts the sink's open transactions, by initializing a producer
// on each of their ids: that ends the open transaction with an abort and
// bumps the epoch, so that a producer still alive with the old one (a zombie)
// is fenced.
func (s *Sink) abortOpen(ctx context.Context, cl *kgo.Client) error {
	txns, err := kadm.NewClient(cl).ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		return fmt.Errorf("kafka sink: list open transactions: %w", err)
	}
	for _, t := range txns.Sorted() {
		if !s.ownID(t.TxnID) {
			continue
		}
		if err := s.fence(ctx, cl, t.TxnID); err != nil {
			return err
		}
		metrics.aborted.Add(1)
	}
	return nil
}

// fence initializes a producer on id, which aborts its open transaction.
func (s *Sink) fence(ctx context.Context, cl *kgo.Client, id string) error {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &id
	req.TransactionTimeoutMillis = int32(s.timeout.Milliseconds())
	return coordinatorRetry(ctx, "abort open transaction "+id, func() (int16, error) {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return 0, err
		}
		return resp.ErrorCode, nil
	})
}

// coordinatorRetry calls do until it succeeds, retrying while the transaction
// coordinator is busy or moving, for at most coordinatorTimeout.
func coordinatorRetry(ctx context.Context, what string, do func() (int16, error)) error {
	deadline := time.Now().Add(coordinatorTimeout)
	wait := 10 * time.Millisecond
	for {
		code, err := do()
		if err == nil {
			err = kerr.ErrorForCode(code)
		}
		if err == nil {
			return nil
		}
		retry := errors.Is(err, kerr.ConcurrentTransactions) || errors.Is(err, kerr.CoordinatorLoadInProgress) ||
			errors.Is(err, kerr.CoordinatorNotAvailable) || errors.Is(err, kerr.NotCoordinator) || kerr.IsRetriable(err) || isNetErr(err)
		if !retry || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("kafka sink: %s: %w", what, err)
		}
		metrics.retries.Add(1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka sink: %s: %w", what, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// isNetErr reports a request that failed on the way (a broker restarting):
// the request is idempotent, so it is sent again.
func isNetErr(err error) bool {
	var k *kerr.Error
	return !errors.As(err, &k) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// Commit commits the transactions of a complete checkpoint (its own and any
// carried from an abandoned one).
func (s *Sink) Commit(ctx context.Context, checkpointID int64, committables [][]byte) error {
	cl, err := s.control()
	if err != nil {
		return err
	}
	return s.commitAll(ctx, cl, checkpointID, committables)
}

func (s *Sink) commitAll(ctx context.Context, cl *kgo.Client, checkpointID int64, committables [][]byte) error {
	var ids []string
	for _, raw := range committables {
		var c committable
		if err := json.Unmarshal(raw, &c); err != nil || c.TxnID == "" {
			return fmt.Errorf("kafka sink: checkpoint %d: committable %q is not one of this sink's", checkpointID, raw)
		}
		if !s.ownID(c.TxnID) {
			return fmt.Errorf("kafka sink: checkpoint %d: transaction %s does not have this sink's transactionalIdPrefix %s; was the prefix changed while the job had checkpoints?", checkpointID, c.TxnID, s.prefix)
		}
		if err := s.commitOne(ctx, cl, c); err != nil {
			return err
		}
		ids = append(ids, c.TxnID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Ids committed by an earlier checkpoint are free now that this one is
	// complete: no restore will hand their committables to Recover again.
	for id, at := range s.used {
		if at >= 0 && at < checkpointID {
			delete(s.used, id)
		}
	}
	for _, id := range ids {
		if _, ok := s.used[id]; ok {
			s.used[id] = checkpointID
		}
	}
	return nil
}

// commitOne ends a pre-committed transaction with a commit. Ending it again
// with the same producer id and epoch succeeds (the broker treats it as a
// retry), which makes Commit and Recover idempotent. A transaction the broker
// has aborted meanwhile (it outlived its timeout) cannot be committed: that is
// an error, never a silent loss.
func (s *Sink) commitOne(ctx context.Context, cl *kgo.Client, c committable) error {
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = c.TxnID, c.ProducerID, c.Epoch, true
	err := coordinatorRetry(ctx, "commit transaction "+c.TxnID, func() (int16, error) {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return 0, err
		}
		return resp.ErrorCode, nil
	})
	switch {
	case err == nil:
		metrics.committed.Add(1)
		return s.awaitMarkers(ctx, cl, c)
	case errors.Is(err, kerr.InvalidTxnState), errors.Is(err, kerr.ProducerFenced), errors.Is(err, kerr.InvalidProducerEpoch), errors.Is(err, kerr.InvalidProducerIDMapping):
		state := ""
		if d, derr := kadm.NewClient(cl).DescribeTransactions(ctx, c.TxnID); derr == nil {
			if t, ok := d[c.TxnID]; ok {
				state = fmt.Sprintf(" (the broker has it %s at producer %d epoch %d)", t.State, t.ProducerID, t.ProducerEpoch)
			}
		}
		// NB: ErrOutputLost: a restart would hand Recover the same
		// committable, into the same refusal, as often as restarts allow.
		return fmt.Errorf("kafka sink: transaction %s of checkpoint %d (%d records, producer %d epoch %d) can no longer be committed%s: %w; the broker aborted it, most likely because it stayed open longer than transactionTimeout %v (a process down for that long, or checkpoints slower than that): its records are lost (%w)",
			c.TxnID, c.Checkpoint, c.Records, c.ProducerID, c.Epoch, state, err, s.timeout, runtime.ErrOutputLost)
	default:
		return err
	}
}

// awaitMarkers waits until the coordinator has written the commit markers of
// a transaction it accepted to commit (its state leaves PrepareCommit): only
// then do read_committed readers see the records, and Commit's contract is
// that they are visible when it returns.
func (s *Sink) awaitMarkers(ctx context.Context, cl *kgo.Client, c committable) error {
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(coordinatorTimeout)
	wait := time.Millisecond
	for {
		d, err := adm.DescribeTransactions(ctx, c.TxnID)
		if err == nil {
			t, ok := d[c.TxnID]
			if ok && t.Err == nil && t.State != "PrepareCommit" {
				return nil
			}
			if ok && t.Err != nil {
				err = t.Err
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("kafka sink: transaction %s: commit accepted but its markers are not written after %v: %v", c.TxnID, coordinatorTimeout, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// OpenWriter opens the writer of one subtask. It connects when the first
// record of a transaction arrives.
func (s *Sink) OpenWriter(ctx context.Context, info runtime.SinkInfo) (runtime.SinkWriter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prefix == "" {
		return nil, errors.New("kafka sink: option transactionalIdPrefix: required when the sink is not built from a job spec (which defaults it to weir-<job>-<sink>)")
	}
	if s.used == nil {
		s.used = map[string]int64{}
	}
	log := info.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &writer{s: s, subtask: info.Subtask, log: log}, nil
}

// claim returns the first of the subtask's ids of this attempt that is free,
// and marks it open.
func (s *Sink) claim(subtask int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := 0; ; k++ {
		id := s.txnID(subtask, k)
		if _, ok := s.used[id]; !ok {
			s.used[id] = -1
			return id
		}
	}
}

// release frees an id whose transaction was aborted.
func (s *Sink) release(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.used, id)
}

// writer is one subtask's writer: at most one open transaction.
type writer struct {
	s       *Sink
	subtask int
	log     *slog.Logger

	cl      *kgo.Client // the open transaction's producer; nil when none is open
	txnID   string
	records int64
	failed  atomic.Pointer[error] // the first produce error of the transaction
}

// begin opens a transaction on a producer of a free id.
func (w *writer) begin() error {
	id := w.s.claim(w.subtask)
	opts := append(clientOpts(w.s.brokers),
		kgo.TransactionalID(id),
		kgo.TransactionTimeout(w.s.timeout),
		kgo.DefaultProduceTopic(w.s.topic),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		w.s.release(id)
		return fmt.Errorf("kafka sink: %w", err)
	}
	if err := cl.BeginTransaction(); err != nil {
		cl.Close()
		w.s.release(id)
		return fmt.Errorf("kafka sink: begin transaction %s: %w", id, err)
	}
	w.cl, w.txnID, w.records = cl, id, 0
	w.failed.Store(nil)
	return nil
}

// Write produces the batch's records into the open transaction (opening one
// for the first record). Produce is asynchronous: errors surface at the next
// Write or at PreCommit.
func (w *writer) Write(ctx context.Context, batch []byte) error {
	if err := w.produceErr(); err != nil {
		return err
	}
	r := abi.NewReader(batch)
	n := 0
	for r.Next() {
		if w.cl == nil {
			if err := w.begin(); err != nil {
				return err
			}
		}
		e := r.Entry()
		rec := &kgo.Record{Value: clone(e.Value), Key: clone(e.Key)}
		if e.Timestamp != abi.NoTimestamp {
			rec.Timestamp = time.UnixMilli(e.Timestamp)
		}
		hs := abi.Headers(e.Headers)
		for {
			name, value, ok := hs.Next()
			if !ok {
				break
			}
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: string(name), Value: clone(value)})
		}
		w.cl.Produce(ctx, rec, w.promise)
		n++
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("kafka sink: %w", err)
	}
	w.records += int64(n)
	metrics.records.Add(int64(n))
	return w.produceErr()
}

// clone copies b (batch slices are valid during Write only); nil stays nil,
// so that a record without a key has Kafka's null key.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

func (w *writer) promise(_ *kgo.Record, err error) {
	if err != nil {
		w.failed.CompareAndSwap(nil, &err)
	}
}

func (w *writer) produceErr() error {
	if p := w.failed.Load(); p != nil {
		return fmt.Errorf("kafka sink: transaction %s: produce: %w", w.txnID, *p)
	}
	return nil
}

// PreCommit flushes the open transaction, so that every record is written
// to the partition logs, and returns its (transactional id, producer id,
// epoch) without ending it: Commit ends it once the checkpoint is complete.
// The producer is closed; closing does not end the transaction.
func (w *writer) PreCommit(ctx context.Context, checkpointID int64) ([]byte, error) {
	if w.cl == nil {
		return nil, nil
	}
	if err := w.cl.Flush(ctx); err != nil {
		return nil, fmt.Errorf("kafka sink: transaction %s: flush: %w", w.txnID, err)
	}
	if err := w.produceErr(); err != nil {
		return nil, err
	}
	pid, epoch, err := w.cl.ProducerID(ctx)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: transaction %s: producer id: %w", w.txnID, err)
	}
	c, err := json.Marshal(committable{TxnID: w.txnID, ProducerID: pid, Epoch: epoch, Checkpoint: checkpointID, Records: w.records})
	if err != nil {
		return nil, err
	}
	w.cl.Close()
	w.log.Debug("kafka sink: pre-committed", "txn", w.txnID, "checkpoint", checkpointID, "records", w.records)
	w.cl = nil
	return c, nil
}

// Close aborts an open transaction that was not pre-committed, so that it
// does not hold back read_committed readers until its timeout (if this
// fails, Recover aborts it), and leaves pre-committed ones to Commit or
// Recover.
func (w *writer) Close() error {
	if w.cl == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeAbortTimeout)
	defer cancel()
	w.cl.AbortBufferedRecords(ctx)
	if err := w.cl.EndTransaction(ctx, kgo.TryAbort); err == nil {
		w.s.release(w.txnID)
	}
	w.cl.Close()
	w.cl = nil
	return nil
}

// metrics are the connector's counters, for all sources and sinks of the
// process.
var metrics struct {
	records, committed, aborted, retries, sourceRecords atomic.Int64
}

// Metrics is a snapshot of the connector's counters in this process.
type Metrics struct {
	SourceRecords         int64 // records the sources returned
	RecordsProduced       int64 // records handed to producers
	TransactionsCommitted int64 // EndTxn commits that succeeded, retries included
	TransactionsAborted   int64 // open transactions aborted by Recover
	CoordinatorRetries    int64 // EndTxn/InitProducerID calls retried while the coordinator was busy
}

// ReadMetrics returns the connector's counters.
func ReadMetrics() Metrics {
	return Metrics{
		SourceRecords:         metrics.sourceRecords.Load(),
		RecordsProduced:       metrics.records.Load(),
		TransactionsCommitted: metrics.committed.Load(),
		TransactionsAborted:   metrics.aborted.Load(),
		CoordinatorRetries:    metrics.retries.Load(),
	}
}

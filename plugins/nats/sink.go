package nats

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Sink names, limits and defaults.
const (
	// DefaultStagingStream is the stream that holds the sink's transactions
	// between pre-commit and commit.
	DefaultStagingStream = "WEIR_STAGING"
	// stagingRoot starts every staging subject:
	// weir-staging.<stagingStream>.<id>.<subtask>.<writer>.<transaction>.
	stagingRoot = "weir-staging"
	// maxStagedBytes bounds one staging message (a batch of records), well
	// under the server's default max_payload of 1 MiB.
	maxStagedBytes = 256 << 10
	// defaultMaxPending bounds a connection's unacknowledged async publishes.
	defaultMaxPending = 4096
	// publishStallWait is how long a publish may wait for room among the
	// pending ones before it fails.
	publishStallWait = 30 * time.Second
	// ackTimeout bounds the wait for the acks of one pre-commit or commit.
	ackTimeout = 30 * time.Second
	// commitTimeout bounds one Commit or Recover call, so that a broker that
	// went away fails it (the runtime retries after a restart) rather than
	// hanging it.
	commitTimeout = 60 * time.Second
	// restartAllowance is the time a restarted job may take from its restart
	// delay to Recover (building the job, connecting), counted in what the
	// duplicate window must cover.
	restartAllowance = 30 * time.Second
	// defaultDuplicates is the duplicate window of a stream the sink creates
	// (nats-server's default).
	defaultDuplicates = 2 * time.Minute
)

// SinkOptions are the options of the nats sink in a job spec (see doc.go).
type SinkOptions struct {
	ConnOptions
	Stream        string `json:"stream"`
	Subject       string `json:"subject"`
	KeySubject    bool   `json:"keySubject"`
	CreateStream  bool   `json:"createStream"`
	ID            string `json:"id"`
	StagingStream string `json:"stagingStream"`
	MaxPending    int    `json:"maxPending"`
}

// Sink publishes records to a JetStream stream exactly once: each writer
// stages its transaction in the staging stream and acknowledges it at the
// barrier; Commit republishes the staged records to the target with
// Nats-Msg-Id dedup ids and then purges the staging subject (see doc.go and
// docs/RATIONALE.md). It is safe for concurrent use.
type Sink struct {
	url        string
	stream     string
	subject    string
	keySubject bool
	create     bool
	id         string
	staging    string // the staging stream
	maxPending int

	mu     sync.Mutex
	nc     *nats.Conn // for Commit and Recover
	js     jetstream.JetStream
	timing runtime.JobTiming
	ready  bool // streams checked or created
}

var (
	_ runtime.Sink        = (*Sink)(nil)
	_ runtime.TimingAware = (*Sink)(nil)
)

// committable is what PreCommit returns, as JSON: enough for Commit, also in
// another process after a crash.
type committable struct {
	Subject    string `json:"subject"` // the staging subject of the transaction
	Batches    int    `json:"batches"` // staging messages
	Records    int    `json:"records"`
	Job        string `json:"job"`
	Sink       string `json:"sink"`
	Subtask    int    `json:"subtask"`
	Checkpoint int64  `json:"checkpoint"`
	Writer     string `json:"writer"` // random per writer instance
	Txn        int    `json:"txn"`    // the writer's transaction number
}

// msgID is the dedup id of record index of the transaction c. Writer and
// transaction make it unique even when a restarted job reuses a checkpoint
// id for other records.
func (c *committable) msgID(index int) string {
	return fmt.Sprintf("%s/%s/%d/%d/%s-%d/%d", c.Job, c.Sink, c.Subtask, c.Checkpoint, c.Writer, c.Txn, index)
}

// NewSink returns the nats sink that the JSON options opts describe. An
// unknown option or a bad value gives an error that names the option. It does
// not connect: Recover and OpenWriter do.
func NewSink(opts json.RawMessage, _ string) (runtime.Sink, error) {
	var o SinkOptions
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("nats sink: %w", err)
	}
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("nats sink: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	url := o.ConnOptions.resolve(bad)
	if err := checkToken(o.Stream); err != nil {
		bad("stream", "%v", err)
	}
	if err := checkSubject(o.Subject, false); err != nil {
		bad("subject", "%v", err)
	}
	if o.ID == "" {
		o.ID = o.Stream
	}
	if err := checkToken(o.ID); err != nil {
		bad("id", "%v", err)
	}
	if o.StagingStream == "" {
		o.StagingStream = DefaultStagingStream
	}
	if err := checkToken(o.StagingStream); err != nil {
		bad("stagingStream", "%v", err)
	} else if o.StagingStream == o.Stream {
		bad("stagingStream", "%q is also the target stream", o.StagingStream)
	}
	switch {
	case o.MaxPending == 0:
		o.MaxPending = defaultMaxPending
	case o.MaxPending < 1 || o.MaxPending > 1<<20:
		bad("maxPending", "%d is not in 1..%d", o.MaxPending, 1<<20)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Sink{url: url, stream: o.Stream, subject: o.Subject, keySubject: o.KeySubject, create: o.CreateStream,
		id: o.ID, staging: o.StagingStream, maxPending: o.MaxPending}, nil
}

// SetJobTiming takes the job's timing, against which Recover checks the
// target stream's duplicate window.
func (s *Sink) SetJobTiming(t runtime.JobTiming) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timing = t
}

// RecoveryWindow is how long after a commit first publishes a record the
// same record may be published again by a retry: the commit's own bound, the
// restart delay and the allowance for the restarted job to reach Recover.
// The target stream's duplicate window must be at least this long.
func RecoveryWindow(t runtime.JobTiming) time.Duration {
	return commitTimeout + t.RestartDelay + restartAllowance
}

// stagingPrefix is the subject prefix of every transaction of this sink.
func (s *Sink) stagingPrefix() string { return stagingRoot + "." + s.staging + "." + s.id + "." }

// Close closes the connection of Commit and Recover; the next one opens it
// again.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc != nil {
		s.nc.Close()
		s.nc, s.js = nil, nil
	}
	return nil
}

// control returns the sink's connection, opening it and checking (or
// creating) its streams if needed. The caller holds s.mu.
func (s *Sink) control(ctx context.Context) (jetstream.JetStream, error) {
	if s.nc == nil || s.nc.IsClosed() {
		nc, js, err := Connect(s.url, "weir sink "+s.id)
		if err != nil {
			return nil, err
		}
		s.nc, s.js = nc, js
	}
	if !s.ready {
		if err := s.setup(ctx); err != nil {
			return nil, err
		}
		s.ready = true
	}
	return s.js, nil
}

// setup creates the staging stream if it is missing, and the target stream
// if createStream is set, and checks the target's duplicate window.
func (s *Sink) setup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	// NB: no limits on the staging stream: a transaction's batches must all
	// stay until its commit purges them (or Recover aborts them).
	if _, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        s.staging,
		Description: "Weir nats sinks: transactions between pre-commit and commit",
		Subjects:    []string{stagingRoot + "." + s.staging + ".>"},
		Storage:     jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("staging stream %s (option stagingStream): %w", s.staging, err)
	}
	st, err := s.js.Stream(ctx, s.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) && s.create {
		subj := s.subject
		if s.keySubject {
			subj += ".>"
		}
		st, err = s.js.CreateStream(ctx, jetstream.StreamConfig{Name: s.stream, Subjects: []string{subj}, Storage: jetstream.FileStorage, Duplicates: defaultDuplicates})
	}
	if err != nil {
		return fmt.Errorf("stream %s (option stream): %w", s.stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: info: %w", s.stream, err)
	}
	if need := RecoveryWindow(s.timing); info.Config.Duplicates < need {
		return fmt.Errorf("stream %s (option stream): its duplicate window (duplicate_window) is %v, shorter than the %v a commit may take to be retried after a crash (commit timeout %v + the job's restart.delay %v + %v to restart): a retried commit could then publish records twice; raise the stream's duplicate_window to at least %v",
			s.stream, info.Config.Duplicates, need, commitTimeout, s.timing.RestartDelay, restartAllowance, need)
	}
	return nil
}

// Commit publishes the staged records of each committable to the target
// stream and purges their staging subjects. A committable whose staging
// subject is empty was committed before.
func (s *Sink) Commit(ctx context.Context, _ int64, committables [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	js, err := s.control(ctx)
	if err != nil {
		return fmt.Errorf("nats sink: %w", err)
	}
	for _, raw := range committables {
		var c committable
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("nats sink: committable %q: %w", raw, err)
		}
		if err := s.commitOne(ctx, js, &c); err != nil {
			return fmt.Errorf("nats sink: commit %s (checkpoint %d, subtask %d): %w", c.Subject, c.Checkpoint, c.Subtask, err)
		}
	}
	return nil
}

func (s *Sink) commitOne(ctx context.Context, js jetstream.JetStream, c *committable) error {
	if err := s.publishStaged(ctx, js, c); err != nil {
		return err
	}
	// INVARIANT: every record is acked by the target before the purge, so a
	// crash before the purge republishes (deduplicated), and after it finds
	// nothing to do.
	st, err := js.Stream(ctx, s.staging)
	if err != nil {
		return fmt.Errorf("staging stream %s: %w", s.staging, err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(c.Subject)); err != nil {
		return fmt.Errorf("purge staged batches: %w", err)
	}
	return nil
}

// publishStaged publishes the records staged for c to the target stream and
// waits for their acks. It does nothing when c's staging subject is empty.
func (s *Sink) publishStaged(ctx context.Context, js jetstream.JetStream, c *committable) error {
	st, err := js.Stream(ctx, s.staging)
	if err != nil {
		return fmt.Errorf("staging stream %s: %w", s.staging, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(c.Subject))
	if err != nil {
		return fmt.Errorf("staging stream %s: info: %w", s.staging, err)
	}
	switch n := info.State.Subjects[c.Subject]; {
	case n == 0:
		return nil // committed and purged before
	case n != uint64(c.Batches):
		// NB: ErrOutputLost: a restart would find the same batches missing.
		return fmt.Errorf("staging stream %s holds %d of the transaction's %d batches: staged data was lost (limits or deletes on the staging stream?): %w", s.staging, n, c.Batches, runtime.ErrOutputLost)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{c.Subject}})
	if err != nil {
		return fmt.Errorf("staging stream %s: consumer: %w", s.staging, err)
	}
	var pending []jetstream.PubAckFuture
	index := 0
	for got := 0; got < c.Batches; {
		b, err := cons.Fetch(c.Batches-got, jetstream.FetchMaxWait(requestTimeout))
		if err != nil {
			return fmt.Errorf("read staged batches: %w", err)
		}
		n := 0
		for m := range b.Messages() {
			n++
			for rd := abi.NewReader(m.Data()); rd.Next(); {
				e := rd.Entry()
				msg := targetMsg(s.subjectOf(e.Key), e)
				msg.Header.Set(jetstream.MsgIDHeader, c.msgID(index))
				index++
				f, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(publishStallWait), jetstream.WithExpectStream(s.stream))
				if err != nil {
					Metrics.SinkPublishErrors.Add(1)
					return fmt.Errorf("publish record %d: %w", index-1, err)
				}
				pending = append(pending, f)
			}
		}
		if err := b.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("read staged batches: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("read %d of %d staged batches, then none within %v", got, c.Batches, requestTimeout)
		}
		got += n
	}
	if index != c.Records {
		return fmt.Errorf("staged batches hold %d records, the pre-commit staged %d", index, c.Records)
	}
	acks, err := awaitAcks(ctx, pending)
	if err != nil {
		return err
	}
	for _, a := range acks {
		if a.Duplicate {
			Metrics.SinkDuplicates.Add(1)
		}
	}
	Metrics.SinkPublished.Add(uint64(len(acks)))
	return nil
}

// subjectOf is the target subject of a record with key.
func (s *Sink) subjectOf(key []byte) string {
	if s.keySubject {
		return s.subject + "." + string(key)
	}
	return s.subject
}

// targetMsg is the message of record e on subject: the value as data, the
// key and timestamp as headers.
func targetMsg(subject string, e *abi.Entry) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = e.Value
	if len(e.Key) > 0 {
		m.Header.Set(HeaderKey, string(e.Key))
	}
	if e.Timestamp != abi.NoTimestamp {
		m.Header.Set(HeaderTimestamp, strconv.FormatInt(e.Timestamp, 10))
	}
	return m
}

// awaitAcks waits for every publish of fs; it fails on the first that failed.
func awaitAcks(ctx context.Context, fs []jetstream.PubAckFuture) ([]*jetstream.PubAck, error) {
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	acks := make([]*jetstream.PubAck, 0, len(fs))
	for i, f := range fs {
		select {
		case a := <-f.Ok():
			acks = append(acks, a)
		case err := <-f.Err():
			Metrics.SinkPublishErrors.Add(1)
			return nil, fmt.Errorf("publish %d of %d (subject %s) failed: %w", i+1, len(fs), f.Msg().Subject, err)
		case <-ctx.Done():
			Metrics.SinkPublishErrors.Add(1)
			return nil, fmt.Errorf("publish %d of %d (subject %s): no ack within %v: %w", i+1, len(fs), f.Msg().Subject, ackTimeout, ctx.Err())
		}
	}
	return acks, nil
}

// Recover commits the restored checkpoint's committables, then purges every
// other staged transaction of this sink id: those of checkpoints that never
// completed, and writes never pre-committed.
func (s *Sink) Recover(ctx context.Context, checkpointID int64, committables [][]byte) error {
	if err := s.Commit(ctx, checkpointID, committables); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	js, err := s.control(ctx)
	if err != nil {
		return fmt.Errorf("nats sink: %w", err)
	}
	st, err := js.Stream(ctx, s.staging)
	if err != nil {
		return fmt.Errorf("nats sink: staging stream %s: %w", s.staging, err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(s.stagingPrefix()+">")); err != nil {
		return fmt.Errorf("nats sink: abort pending transactions of id %s: %w", s.id, err)
	}
	return nil
}

// OpenWriter opens a subtask's writer on its own connection.
func (s *Sink) OpenWriter(ctx context.Context, info runtime.SinkInfo) (runtime.SinkWriter, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	nc, err := nats.Connect(s.url, nats.Name(fmt.Sprintf("weir sink %s/%s/%d", info.Job, info.Name, info.Subtask)), nats.MaxReconnects(-1), nats.ReconnectWait(reconnectWait))
	if err != nil {
		return nil, fmt.Errorf("nats sink: connect: %w", err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(s.maxPending))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats sink: jetstream: %w", err)
	}
	return &writer{s: s, nc: nc, js: js, info: info, id: hex.EncodeToString(b[:])}, nil
}

// writer stages one subtask's records. A transaction is the records between
// two pre-commits, on their own staging subject.
type writer struct {
	s       *Sink
	nc      *nats.Conn
	js      jetstream.JetStream
	info    runtime.SinkInfo
	id      string // random: tells this writer's transactions from a crashed one's
	txn     int
	batch   abi.Writer
	batches int
	records int
	pending []jetstream.PubAckFuture
}

func (w *writer) subject() string {
	return fmt.Sprintf("%s%d.%s.%d", w.s.stagingPrefix(), w.info.Subtask, w.id, w.txn)
}

// Write checks the records and stages them in batches of at most
// maxStagedBytes.
func (w *writer) Write(ctx context.Context, batch []byte) error {
	for rd, i := abi.NewReader(batch), 0; rd.Next(); i++ {
		e := rd.Entry()
		if e.Kind != abi.KindRecord {
			continue
		}
		if err := w.s.checkKey(e.Key); err != nil {
			return fmt.Errorf("nats sink: batch entry %d (key %q): %w", i, e.Key, err)
		}
		if w.batch.Count() > 0 && len(w.batch.Bytes())+len(e.Key)+len(e.Value)+64 > maxStagedBytes {
			if err := w.flush(); err != nil {
				return err
			}
		}
		w.batch.Append(abi.Entry{Kind: abi.KindRecord, Key: e.Key, Value: e.Value, Timestamp: e.Timestamp})
		w.records++
	}
	return w.flush()
}

// checkKey checks that key can travel as a header value and, with keySubject,
// as a subject token.
func (s *Sink) checkKey(key []byte) error {
	for _, c := range key {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("key has control byte %#x, which a NATS header cannot carry", c)
		}
		if s.keySubject && (c == ' ' || c == '.' || c == '*' || c == '>') {
			return fmt.Errorf("key has %q, which a subject token cannot hold (option keySubject)", c)
		}
	}
	if s.keySubject && len(key) == 0 {
		return errors.New("empty key, with option keySubject")
	}
	return nil
}

// flush publishes the current batch to the staging subject.
func (w *writer) flush() error {
	if w.batch.Count() == 0 {
		return nil
	}
	m := nats.NewMsg(w.subject())
	m.Data = append([]byte(nil), w.batch.Bytes()...)
	w.batch.Reset()
	f, err := w.js.PublishMsgAsync(m, jetstream.WithStallWait(publishStallWait), jetstream.WithExpectStream(w.s.staging))
	if err != nil {
		Metrics.SinkPublishErrors.Add(1)
		return fmt.Errorf("nats sink: stage a batch: %w", err)
	}
	w.pending = append(w.pending, f)
	w.batches++
	return nil
}

// PreCommit waits until the staging stream has acknowledged every batch of
// the transaction, and returns its committable.
func (w *writer) PreCommit(ctx context.Context, checkpointID int64) ([]byte, error) {
	if err := w.flush(); err != nil {
		return nil, err
	}
	if w.batches == 0 {
		return nil, nil
	}
	if _, err := awaitAcks(ctx, w.pending); err != nil {
		return nil, fmt.Errorf("nats sink: pre-commit checkpoint %d: %w", checkpointID, err)
	}
	Metrics.SinkStaged.Add(uint64(w.records))
	c := committable{Subject: w.subject(), Batches: w.batches, Records: w.records, Job: w.info.Job, Sink: w.info.Name,
		Subtask: w.info.Subtask, Checkpoint: checkpointID, Writer: w.id, Txn: w.txn}
	w.txn, w.batches, w.records, w.pending = w.txn+1, 0, 0, nil
	return json.Marshal(c)
}

// Close closes the writer's connection; its open transaction stays staged
// until Recover purges it.
func (w *writer) Close() error {
	w.nc.Close()
	return nil
}

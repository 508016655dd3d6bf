package kafka

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Defaults of the source.
const (
	// pollWait bounds one Read's wait for records, so that an idle
	// partition does not hold up checkpoint barriers.
	pollWait = 50 * time.Millisecond
	// positionBytes is the length of a position: the next offset to read,
	// 8 bytes big-endian.
	positionBytes = 8
	// Start offsets for a split without a position.
	StartEarliest = "earliest"
	StartLatest   = "latest"
)

// SourceOptions are the options of the kafka source in a job spec (see
// doc.go).
type SourceOptions struct {
	ConnOptions
	// StartOffset is where a partition without a checkpointed position
	// starts: earliest (default) or latest.
	StartOffset string `json:"startOffset"`
	// Bounded stops each partition at the last stable offset it had when
	// its reader opened (for tests and backfills).
	Bounded bool `json:"bounded"`
	// Group, if set, is a consumer group whose committed offsets the source
	// sets to its positions, for lag monitoring only: the positions that
	// count are in Weir's checkpoints.
	Group string `json:"group"`
}

// Source reads a topic, one split per partition, with read_committed
// isolation; a split's position is its next offset.
type Source struct {
	brokers []string
	topic   string
	latest  bool
	bounded bool
	group   string
}

var _ runtime.Source = (*Source)(nil)

// NewSource returns the kafka source that the JSON options opts describe. An
// unknown option or a bad value gives an error that names the option. It does
// not connect: Splits and Open do.
func NewSource(opts json.RawMessage, _ string) (runtime.Source, error) {
	var o SourceOptions
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("kafka source: %w", err)
	}
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("kafka source: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	brokers := o.ConnOptions.resolve(bad)
	switch o.StartOffset {
	case "", StartEarliest, StartLatest:
	default:
		bad("startOffset", "%q is not one of %s, %s", o.StartOffset, StartEarliest, StartLatest)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Source{brokers: brokers, topic: o.Topic, latest: o.StartOffset == StartLatest, bounded: o.Bounded, group: o.Group}, nil
}

// Splits lists the topic's partitions as "<topic>/<partition>".
func (s *Source) Splits(ctx context.Context) ([]string, error) {
	cl, err := kgo.NewClient(clientOpts(s.brokers)...)
	if err != nil {
		return nil, fmt.Errorf("kafka source: %w", err)
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).ListTopics(ctx, s.topic)
	if err != nil {
		return nil, fmt.Errorf("kafka source: topic %s: metadata: %w", s.topic, err)
	}
	td, ok := md[s.topic]
	if !ok || td.Err != nil {
		e := error(errors.New("not found"))
		if ok {
			e = td.Err
		}
		return nil, fmt.Errorf("kafka source: option topic: %s: %w", s.topic, e)
	}
	splits := make([]string, 0, len(td.Partitions))
	for _, p := range td.Partitions.Numbers() {
		splits = append(splits, splitName(s.topic, p))
	}
	slices.Sort(splits)
	return splits, nil
}

func splitName(topic string, p int32) string { return fmt.Sprintf("%s/%04d", topic, p) }

// parseSplit returns the partition of a split of this source.
func (s *Source) parseSplit(split string) (int32, error) {
	t, ps, ok := strings.Cut(split, "/")
	p, err := strconv.ParseInt(ps, 10, 32)
	if !ok || t != s.topic || err != nil || p < 0 {
		return 0, fmt.Errorf("kafka source: split %q is not a partition of topic %s", split, s.topic)
	}
	return int32(p), nil
}

// Open starts reading a partition at position (the next offset), or at the
// start offset when position is nil.
func (s *Source) Open(ctx context.Context, split string, position []byte, env runtime.SourceEnv) (runtime.SplitReader, error) {
	p, err := s.parseSplit(split)
	if err != nil {
		return nil, err
	}
	at := kgo.NewOffset().AtStart()
	next := int64(-1)
	switch {
	case position != nil:
		if len(position) != positionBytes {
			return nil, fmt.Errorf("kafka source: split %s: position is %d bytes, want %d", split, len(position), positionBytes)
		}
		next = int64(binary.BigEndian.Uint64(position))
		at = kgo.NewOffset().At(next)
	case s.latest:
		at = kgo.NewOffset().AtEnd()
	}
	r := &reader{src: s, split: split, partition: p, next: next, end: -1, prev: -1}
	r.committed.Store(-1)
	if s.bounded || next < 0 || s.group != "" {
		adm, err := kgo.NewClient(clientOpts(s.brokers)...)
		if err != nil {
			return nil, fmt.Errorf("kafka source: %w", err)
		}
		r.admin = adm
		if err := r.resolveOffsets(ctx, at); err != nil {
			adm.Close()
			return nil, err
		}
		at = kgo.NewOffset().At(r.next)
	}
	opts := append(clientOpts(s.brokers),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: {p: at}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// The commit and abort markers move the position past the end of
		// every transaction, so that a bounded reader reaches its end and a
		// resumed one does not fetch them again.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		if r.admin != nil {
			r.admin.Close()
		}
		return nil, fmt.Errorf("kafka source: %w", err)
	}
	r.cl = cl
	return r, nil
}

// reader reads one partition.
type reader struct {
	src       *Source
	split     string
	partition int32
	cl        *kgo.Client
	admin     *kgo.Client // for offsets: the bounded end, the start, group commits
	next      int64       // the next offset to read (-1 before the start is known)
	end       int64       // bounded: stop at this offset (-1: unbounded)
	pending   []*kgo.Record
	committed atomic.Int64 // the offset last committed to the group
	prev      int64        // the position at the previous barrier (-1: none yet)
	pos       [positionBytes]byte
}

// resolveOffsets fixes the start offset (when there is no position) and the
// bounded end.
func (r *reader) resolveOffsets(ctx context.Context, at kgo.Offset) error {
	adm := kadm.NewClient(r.admin)
	lookup := func(what string, f func(context.Context, ...string) (kadm.ListedOffsets, error)) (int64, error) {
		offs, err := f(ctx, r.src.topic)
		if err != nil {
			return 0, fmt.Errorf("kafka source: split %s: %s offset: %w", r.split, what, err)
		}
		o, ok := offs.Lookup(r.src.topic, r.partition)
		if !ok || o.Err != nil {
			return 0, fmt.Errorf("kafka source: split %s: %s offset: %v", r.split, what, o.Err)
		}
		return o.Offset, nil
	}
	if r.next < 0 {
		what, f := "start", adm.ListStartOffsets
		if at.EpochOffset().Offset == -1 { // AtEnd
			what, f = "end", adm.ListCommittedOffsets
		}
		n, err := lookup(what, f)
		if err != nil {
			return err
		}
		r.next = n
	}
	if r.src.bounded {
		// The last stable offset: records after it belong to transactions
		// that are still open, which a read_committed reader cannot pass.
		n, err := lookup("last stable", adm.ListCommittedOffsets)
		if err != nil {
			return err
		}
		r.end = n
	}
	return nil
}

// Read appends up to maxRecords records; it waits at most pollWait for them.
func (r *reader) Read(ctx context.Context, w *abi.Writer, maxRecords int) (int, error) {
	if r.end >= 0 && r.next >= r.end && len(r.pending) == 0 {
		return 0, io.EOF
	}
	if len(r.pending) == 0 {
		pctx, cancel := context.WithTimeout(ctx, pollWait)
		fs := r.cl.PollRecords(pctx, maxRecords)
		cancel()
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("kafka source: split %s: fetch: %w", r.split, err)
			}
		})
		if ferr != nil {
			return 0, ferr
		}
		r.pending = fs.Records()
	}
	n := 0
	for len(r.pending) > 0 && n < maxRecords {
		rec := r.pending[0]
		if r.end >= 0 && rec.Offset >= r.end {
			r.pending = nil
			break
		}
		r.pending = r.pending[1:]
		r.next = rec.Offset + 1
		if rec.Attrs.IsControl() {
			continue
		}
		var hs []byte
		for _, h := range rec.Headers {
			hs = abi.AppendHeader(hs, h.Key, string(h.Value))
		}
		w.Append(abi.Entry{Key: rec.Key, Value: rec.Value, Headers: hs, Timestamp: rec.Timestamp.UnixMilli()})
		n++
	}
	metrics.sourceRecords.Add(int64(n))
	if r.end >= 0 && r.next >= r.end && len(r.pending) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// Position is the next offset to read. The runtime asks for it at each
// checkpoint barrier. When a group is configured, the position of the
// previous barrier is committed to it then, for monitoring: that checkpoint
// has normally completed by the next barrier, so the group's offset trails
// Weir's committed position by about one checkpoint interval and never shows
// records as consumed before a checkpoint that holds them was taken.
func (r *reader) Position() []byte {
	if r.src.group != "" && r.prev >= 0 && r.prev != r.committed.Load() {
		r.commitGroup(r.prev)
	}
	r.prev = r.next
	binary.BigEndian.PutUint64(r.pos[:], uint64(r.next))
	return slices.Clone(r.pos[:])
}

// commitGroup sets the group's offset of this partition to next, in the
// background: monitoring must not slow the barrier, and a failed commit only
// makes the reported lag a little stale until the next barrier tries again.
func (r *reader) commitGroup(next int64) {
	adm := kadm.NewClient(r.admin)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: r.src.topic, Partition: r.partition, At: next, LeaderEpoch: -1})
		if resp, err := adm.CommitOffsets(ctx, r.src.group, os); err == nil && resp.Ok() {
			r.committed.Store(next)
		}
	}()
}

func (r *reader) Close() error {
	r.cl.Close()
	if r.admin != nil {
		r.admin.Close()
	}
	return nil
}

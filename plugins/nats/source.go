package nats

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Header names the sink sets and the source reads, so that a record's key
// and timestamp survive a round trip through a stream.
const (
	HeaderKey       = "Weir-Key"
	HeaderTimestamp = "Weir-Timestamp" // decimal ms since the epoch
)

// Gap policies of the source.
const (
	GapFail = "fail"
	GapLog  = "log"
)

// Source limits and defaults.
const (
	// defaultReadWait is how long Read waits for a first message before it
	// returns none, so that barriers are not held up.
	defaultReadWait = 20 * time.Millisecond
	// pumpBuffer bounds the messages a split reader holds ahead of Read.
	pumpBuffer = 1024
	// positionBytes is the size of a position between messages: the stream
	// sequence of the last message returned whole, big-endian.
	positionBytes = 8
	// partialPositionBytes is the size of a position inside a message of
	// several records: its sequence and the records of it returned.
	partialPositionBytes = 16
	// HeaderRecords, set to "lines" on a message, makes each non-empty line
	// of its data a record (the HTTP ingest stores a request as one message).
	HeaderRecords = "Weir-Records"
	recordsLines  = "lines"
)

// SourceOptions are the options of the nats source in a job spec (see doc.go).
type SourceOptions struct {
	ConnOptions
	Stream    string   `json:"stream"`
	Subjects  []string `json:"subjects"`
	StopAtEnd bool     `json:"stopAtEnd"`
	OnGap     string   `json:"onGap"`
	ReadWait  string   `json:"readWait"`
}

// Source reads a JetStream stream: one split for the whole stream, or one per
// subject filter. It keeps no state on the server: each split reader is an
// ordered (ephemeral) consumer started after the checkpointed sequence.
type Source struct {
	url       string
	stream    string
	subjects  []string // "" for the whole stream
	stopAtEnd bool
	onGap     string
	readWait  time.Duration
}

var _ runtime.Source = (*Source)(nil)

// NewSource returns the nats source that the JSON options opts describe. An
// unknown option or a bad value gives an error that names the option. It does
// not connect: Open does.
func NewSource(opts json.RawMessage, _ string) (runtime.Source, error) {
	var o SourceOptions
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("nats source: %w", err)
	}
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("nats source: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	url := o.ConnOptions.resolve(bad)
	if err := checkToken(o.Stream); err != nil {
		bad("stream", "%v", err)
	}
	subjects := []string{""}
	if len(o.Subjects) > 0 {
		subjects = o.Subjects
		for i, s := range o.Subjects {
			if err := checkSubject(s, true); err != nil {
				bad(fmt.Sprintf("subjects[%d]", i), "%v", err)
			}
			if slices.Index(o.Subjects, s) < i {
				bad(fmt.Sprintf("subjects[%d]", i), "%q is given twice", s)
			}
		}
	}
	switch o.OnGap {
	case "":
		o.OnGap = GapFail
	case GapFail, GapLog:
	default:
		bad("onGap", "%q is not one of %q", o.OnGap, []string{GapFail, GapLog})
	}
	wait := parseDuration(bad, "readWait", o.ReadWait, defaultReadWait)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Source{url: url, stream: o.Stream, subjects: subjects, stopAtEnd: o.StopAtEnd, onGap: o.OnGap, readWait: wait}, nil
}

// Splits returns "<stream>" for a whole-stream source, else "<stream>:<subject
// filter>" per filter, in the order of the options.
func (s *Source) Splits(context.Context) ([]string, error) {
	out := make([]string, len(s.subjects))
	for i, subj := range s.subjects {
		out[i] = splitName(s.stream, subj)
	}
	return out, nil
}

func splitName(stream, subject string) string {
	if subject == "" {
		return stream
	}
	return stream + ":" + subject
}

// Open starts an ordered consumer at the sequence after position.
func (s *Source) Open(ctx context.Context, split string, position []byte, env runtime.SourceEnv) (runtime.SplitReader, error) {
	i := slices.IndexFunc(s.subjects, func(subj string) bool { return splitName(s.stream, subj) == split })
	if i < 0 {
		return nil, fmt.Errorf("nats source: unknown split %q", split)
	}
	var last, skip uint64
	switch len(position) {
	case 0:
	case positionBytes:
		last = binary.BigEndian.Uint64(position)
	case partialPositionBytes:
		seq := binary.BigEndian.Uint64(position)
		if seq == 0 {
			return nil, fmt.Errorf("nats source: split %q: position inside message sequence 0", split)
		}
		last, skip = seq-1, binary.BigEndian.Uint64(position[8:])
	default:
		return nil, fmt.Errorf("nats source: split %q: position of %d bytes, want %d or %d", split, len(position), positionBytes, partialPositionBytes)
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &splitReader{src: s, split: split, subject: s.subjects[i], last: last, skip: skip, log: log}
	if err := r.start(ctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("nats source: split %q: %w", split, err)
	}
	return r, nil
}

// splitReader reads one split. A goroutine pumps the consumer's messages
// into a bounded channel, so that Read can wait for at most readWait.
type splitReader struct {
	src     *Source
	split   string
	subject string // filter, "" for the whole stream
	last    uint64 // stream sequence of the last message returned whole
	// skip is, on a reader opened inside a message, how many records of
	// message last+1 were returned before.
	skip uint64
	// cur holds the records of the message being returned, from index idx;
	// nil between messages.
	cur    [][]byte
	curMsg jetstream.Msg
	curSeq uint64
	idx    int
	end    uint64 // stopAtEnd: the last sequence to read; 0 with nothing to read
	eof    bool
	log    *slog.Logger

	nc   *nats.Conn
	iter jetstream.MessagesContext
	msgs chan jetstream.Msg
	err  atomic.Pointer[error] // the pump's error, once it stops
	done chan struct{}
}

func (r *splitReader) start(ctx context.Context) error {
	nc, js, err := Connect(r.src.url, "weir source "+r.split)
	if err != nil {
		return err
	}
	r.nc = nc
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	st, err := js.Stream(rctx, r.src.stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", r.src.stream, err)
	}
	info, err := st.Info(rctx)
	if err != nil {
		return fmt.Errorf("stream %s: info: %w", r.src.stream, err)
	}
	if r.src.stopAtEnd {
		r.end = info.State.LastSeq
		if r.subject != "" {
			m, err := st.GetLastMsgForSubject(rctx, r.subject)
			switch {
			case errors.Is(err, jetstream.ErrMsgNotFound):
				r.end = 0
			case err != nil:
				return fmt.Errorf("stream %s: last message of %s: %w", r.src.stream, r.subject, err)
			default:
				r.end = m.Sequence
			}
		}
		if r.last >= r.end {
			r.eof = true
			return nil
		}
	}
	// A resumed whole-stream split expects sequence last+1 next; messages
	// removed before it are a gap. (Before the first message read, whatever
	// retention removed was never to be read: no gap.) (A filtered split's sequences skip other
	// subjects' messages, so it cannot tell; see doc.go.)
	if r.last > 0 && r.subject == "" && info.State.FirstSeq > r.last+1 && info.State.Msgs > 0 {
		if err := r.gap(r.last+1, info.State.FirstSeq-1); err != nil {
			return err
		}
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if r.last > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, r.last+1
	}
	if r.subject != "" {
		cfg.FilterSubjects = []string{r.subject}
	}
	c, err := st.OrderedConsumer(rctx, cfg)
	if err != nil {
		return fmt.Errorf("stream %s: ordered consumer: %w", r.src.stream, err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(pumpBuffer))
	if err != nil {
		return fmt.Errorf("stream %s: messages: %w", r.src.stream, err)
	}
	r.iter, r.msgs, r.done = it, make(chan jetstream.Msg, pumpBuffer), make(chan struct{})
	go r.pump()
	return nil
}

func (r *splitReader) pump() {
	defer close(r.done)
	for {
		m, err := r.iter.Next()
		if err != nil {
			if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				r.err.Store(&err)
			}
			close(r.msgs)
			return
		}
		r.msgs <- m
	}
}

// gap reports stream sequences first..last as missing: an error, or with
// onGap log a warning and a count in the metrics.
func (r *splitReader) gap(first, last uint64) error {
	Metrics.SourceGapMessages.Add(last - first + 1)
	if r.src.onGap == GapLog {
		r.log.Warn("nats source: stream sequences missing (deleted by retention or by hand before they were read); skipping them",
			"split", r.split, "first", first, "last", last, "missing", last-first+1)
		return nil
	}
	return fmt.Errorf("stream %s: sequences %d..%d (%d messages) are missing: deleted by the stream's retention limits or by hand before the job read them; set option onGap: log to skip them", r.src.stream, first, last, last-first+1)
}

func (r *splitReader) Read(ctx context.Context, w *abi.Writer, maxRecords int) (int, error) {
	if r.eof {
		return 0, io.EOF
	}
	n := 0
	var timer <-chan time.Time
	for n < maxRecords {
		if r.cur == nil {
			var m jetstream.Msg
			var ok bool
			if n == 0 {
				if timer == nil {
					timer = time.After(r.src.readWait)
				}
				select {
				case m, ok = <-r.msgs:
				case <-timer:
					return 0, nil
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			} else {
				select {
				case m, ok = <-r.msgs:
				default:
					return n, nil
				}
			}
			if !ok {
				if p := r.err.Load(); p != nil {
					return n, fmt.Errorf("nats source: split %q: after sequence %d: %w", r.split, r.last, *p)
				}
				return n, fmt.Errorf("nats source: split %q: consumer stopped after sequence %d", r.split, r.last)
			}
			if err := r.take(m); err != nil {
				return n, fmt.Errorf("nats source: split %q: %w", r.split, err)
			}
		}
		for ; r.idx < len(r.cur) && n < maxRecords; r.idx++ {
			w.Append(r.record(r.cur[r.idx]))
			n++
		}
		if r.idx < len(r.cur) {
			break
		}
		r.last, r.cur, r.curMsg = r.curSeq, nil, nil
		Metrics.SourceMessages.Add(1)
		if r.src.stopAtEnd && r.last >= r.end {
			r.eof = true
			return n, io.EOF
		}
	}
	return n, nil
}

// take makes m the current message: it checks its sequence for a gap and
// splits its records.
func (r *splitReader) take(m jetstream.Msg) error {
	meta, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("after sequence %d: %w", r.last, err)
	}
	seq := meta.Sequence.Stream
	// NB: a reader opened inside message last+1 must get that message, also
	// on a subject-filtered split.
	if seq != r.last+1 && (r.skip > 0 || r.subject == "" && r.last > 0) {
		last := seq - 1
		if r.subject != "" {
			last = r.last + 1 // the message the position was inside; the others may be other subjects'
		}
		if err := r.gap(r.last+1, last); err != nil {
			return err
		}
		r.skip = 0
	}
	r.curMsg, r.curSeq, r.idx = m, seq, 0
	if m.Headers().Get(HeaderRecords) == recordsLines {
		r.cur = slices.AppendSeq(r.cur[:0], recordLines(m.Data()))
	} else {
		r.cur = [][]byte{m.Data()}
	}
	if r.skip > 0 {
		if r.skip > uint64(len(r.cur)) {
			return fmt.Errorf("position inside message %d at record %d, but it holds %d records", seq, r.skip, len(r.cur))
		}
		r.idx, r.skip = int(r.skip), 0
	}
	return nil
}

// recordLines yields the records of a message of JSON lines: its non-empty
// lines.
func recordLines(data []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) > 0 && !yield(line) {
				return
			}
		}
	}
}

// record is one record of the current message, with value v.
func (r *splitReader) record(v []byte) abi.Entry {
	m := r.curMsg
	meta, _ := m.Metadata() // NB: checked by take
	e := abi.Entry{Kind: abi.KindRecord, Value: v, Timestamp: meta.Timestamp.UnixMilli()}
	h := m.Headers()
	if k := h.Get(HeaderKey); k != "" {
		e.Key = []byte(k)
	} else {
		e.Key = []byte(m.Subject())
	}
	if ts := h.Get(HeaderTimestamp); ts != "" {
		if v, err := strconv.ParseInt(ts, 10, 64); err == nil {
			e.Timestamp = v
		}
	}
	return e
}

// Position is the stream sequence of the last message returned whole (8
// bytes, big-endian), or, inside a message of several records, its sequence
// and how many of its records were returned (16 bytes).
func (r *splitReader) Position() []byte {
	if r.cur != nil && r.idx > 0 {
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, r.curSeq), uint64(r.idx))
	}
	return binary.BigEndian.AppendUint64(nil, r.last)
}

func (r *splitReader) Close() error {
	if r.iter != nil {
		r.iter.Stop()
		// NB: drain, so that the pump is not stuck sending.
		for range r.msgs {
		}
		<-r.done
	}
	if r.nc != nil {
		r.nc.Close()
	}
	return nil
}

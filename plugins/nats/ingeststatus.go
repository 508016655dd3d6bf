package nats

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/weirstream/weir/runtime"
)

// Ingest request statuses: names and limits.
const (
	// IngestStatusPath is the route of a request's status: {sequence} is the
	// stream sequence its 202 answered.
	IngestStatusPath = "GET /v1/ingest/{endpoint}/requests/{sequence}"
	// IngestReplayPath is the route that ingests a stored request again, as
	// a new request: every record of it goes through the jobs once more.
	IngestReplayPath = "POST /v1/ingest/{endpoint}/requests/{sequence}/replay"
	// HeaderReplayOf, on a replayed request's message, is the stream
	// sequence of the request it repeats.
	HeaderReplayOf = "Weir-Replay-Of"
	// ingestStatusBucket is the KV bucket of the statuses of all endpoints.
	ingestStatusBucket = "WEIR_INGEST_STATUS"
)

// Request statuses.
const (
	StatusPending = "pending" // some of its records are not decided yet
	StatusAcked   = "acked"   // every record went through and is committed
	StatusNacked  = "nacked"  // some records failed: Failed lists them
)

// IngestStatus is the status of one ingest request (a batch of records) in
// one job that reads its endpoint, from its records' statuses.
type IngestStatus struct {
	Job    string `json:"job"`
	Status string `json:"status"`
	// Failed are the failed parts of the request's failed records.
	Failed []IngestFailure `json:"failed,omitempty"`
}

// IngestFailure is a failed part of a request's record.
type IngestFailure struct {
	// Record is the record's index in the request, from 0 (its non-empty
	// line, for JSON lines).
	Record int `json:"record"`
	runtime.AckPart
}

// IngestRequestStatus is the answer of IngestStatusPath.
type IngestRequestStatus struct {
	ID       string         `json:"id"`
	Endpoint string         `json:"endpoint"`
	Sequence uint64         `json:"sequence"`
	Records  int            `json:"records"`
	Jobs     []IngestStatus `json:"jobs"`
}

// ingestDone is how far a job's statuses of an endpoint are decided: every
// record of the messages before Seq, and the first Records of message Seq.
type ingestDone struct {
	Seq     uint64 `json:"seq"`
	Records uint64 `json:"records"`
}

func (d ingestDone) less(o ingestDone) bool {
	return d.Seq < o.Seq || d.Seq == o.Seq && d.Records < o.Records
}

// donePosition is where a source position leaves the split: after message p
// (8 bytes), or inside message p's records (16 bytes).
func donePosition(p []byte) (ingestDone, error) {
	switch len(p) {
	case 0:
		return ingestDone{Seq: 1}, nil
	case 8:
		return ingestDone{Seq: binary.BigEndian.Uint64(p) + 1}, nil
	case 16:
		return ingestDone{Seq: binary.BigEndian.Uint64(p), Records: binary.BigEndian.Uint64(p[8:])}, nil
	}
	return ingestDone{}, fmt.Errorf("source position %x is not a nats source's", p)
}

// IngestAcks keeps the statuses of a job's ingest requests, for
// IngestStatusPath: the ack target kind ingest of `weir server`.
//
// Statuses are kept per request in a JetStream KV bucket: how far the job's
// records of each endpoint are decided (a request before that point without
// failures is ACKed), and the failed parts of each NACKed request. Writing
// them is idempotent, so the deliveries a restart repeats change nothing.
// Messages of sources other than http are not kept.
type IngestAcks struct {
	in *Ingest
}

var _ runtime.AckSink = (*IngestAcks)(nil)

// NewAcks returns the ingest ack target (it takes no options).
func (in *Ingest) NewAcks(opts json.RawMessage, _ string) (runtime.AckSink, error) {
	var o struct{}
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("ingest acks: %w", err)
	}
	return &IngestAcks{in: in}, nil
}

// statusKV returns the statuses' bucket, creating it on first use.
func (in *Ingest) statusKV(ctx context.Context) (jetstream.KeyValue, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.status != nil {
		return in.status, nil
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	kv, err := in.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      ingestStatusBucket,
		Description: "Weir HTTP ingest request statuses",
		// NB: a status is kept as long as its request: past it, the request
		// is gone from the stream and its status cannot be asked for.
		TTL:     in.opts.Retention,
		Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", ingestStatusBucket, err)
	}
	in.status = kv
	return kv, nil
}

func doneKey(endpoint, job string) string { return endpoint + "." + job + ".done" }
func nackKey(endpoint, job string, seq uint64) string {
	return fmt.Sprintf("%s.%s.nack.%d", endpoint, job, seq)
}

// Deliver records the statuses of the batches of ingest streams.
func (a *IngestAcks) Deliver(ctx context.Context, batches []runtime.AckBatch) error {
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	for _, b := range batches {
		endpoint, ok := strings.CutPrefix(b.Split, ingestStreamPrefix)
		if !ok || checkEndpoint(endpoint) != nil {
			continue
		}
		if err := a.deliver(ctx, endpoint, &b); err != nil {
			return fmt.Errorf("ingest acks: endpoint %s, %s: %w", endpoint, b.ID(), err)
		}
	}
	return nil
}

func (a *IngestAcks) deliver(ctx context.Context, endpoint string, b *runtime.AckBatch) error {
	kv, err := a.in.statusKV(ctx)
	if err != nil {
		return err
	}
	from, err := donePosition(b.FromPosition)
	if err != nil {
		return err
	}
	to, err := donePosition(b.ToPosition)
	if err != nil {
		return err
	}
	// The NACKs first, then the point they are decided to: a crash in
	// between leaves the requests pending, and the repeat writes them again.
	if len(b.Nacks) > 0 {
		failed, err := a.locate(ctx, endpoint, from, b)
		if err != nil {
			return err
		}
		for _, seq := range slices.Sorted(maps.Keys(failed)) {
			if err := mergeNack(ctx, kv, nackKey(endpoint, b.Job, seq), failed[seq]); err != nil {
				return err
			}
		}
	}
	return raiseDone(ctx, kv, doneKey(endpoint, b.Job), to)
}

// locate maps the batch's NACKed record numbers to their requests (stream
// sequences) and record indexes, reading the stream's messages from where
// the batch starts: the records of a message are its non-empty lines, as the
// source splits them.
func (a *IngestAcks) locate(ctx context.Context, endpoint string, from ingestDone, b *runtime.AckBatch) (map[uint64][]IngestFailure, error) {
	st, err := a.in.js.Stream(ctx, IngestStream(endpoint))
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", IngestStream(endpoint), err)
	}
	out := map[uint64][]IngestFailure{}
	nacks := b.Nacks
	rec := b.From // the record number of the first record of message seq at index skip
	seq, skip := from.Seq, from.Records
	for len(nacks) > 0 {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			// NB: a gap (a deleted or expired message) holds no record.
			info, err := st.Info(ctx)
			if err != nil {
				return nil, err
			}
			switch {
			case seq > info.State.LastSeq:
				return nil, fmt.Errorf("record %d (a NACKed message) is past the stream's last message %d", nacks[0].Seq, info.State.LastSeq)
			case seq < info.State.FirstSeq:
				seq = info.State.FirstSeq
			default:
				seq++
			}
			skip = 0
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", seq, err)
		}
		n := uint64(1)
		if m.Header.Get(HeaderRecords) == recordsLines {
			n = uint64(countLines(m.Data))
		}
		end := rec + n - skip // record number after the message's last
		for len(nacks) > 0 && nacks[0].Seq < end {
			idx := int(nacks[0].Seq - rec + skip)
			for _, p := range nacks[0].Failed {
				out[seq] = append(out[seq], IngestFailure{Record: idx, AckPart: p})
			}
			nacks = nacks[1:]
		}
		rec, seq, skip = end, seq+1, 0
	}
	return out, nil
}

// mergeNack adds parts to a request's NACK record, by compare-and-swap: a
// request whose records span two checkpoints gets its failures from both,
// and a repeated delivery adds nothing.
func mergeNack(ctx context.Context, kv jetstream.KeyValue, key string, parts []IngestFailure) error {
	return updateJSON(ctx, kv, key, func(have []IngestFailure, exists bool) ([]IngestFailure, bool) {
		merged := slices.Clone(have)
		for _, p := range parts {
			if !slices.ContainsFunc(merged, func(h IngestFailure) bool { return h.DLQ == p.DLQ }) {
				merged = append(merged, p)
			}
		}
		if exists && len(merged) == len(have) {
			return nil, false
		}
		slices.SortFunc(merged, func(x, y IngestFailure) int {
			return cmp.Or(cmp.Compare(x.Record, y.Record), cmp.Compare(x.DLQ, y.DLQ))
		})
		return merged, true
	})
}

// raiseDone moves the job's decided point up to to; it never goes back (an
// older checkpoint's statuses delivered again after a fallback).
func raiseDone(ctx context.Context, kv jetstream.KeyValue, key string, to ingestDone) error {
	return updateJSON(ctx, kv, key, func(have ingestDone, exists bool) (ingestDone, bool) {
		return to, !exists || have.less(to)
	})
}

// updateJSON is a compare-and-swap loop over one JSON value of kv: change
// gets the value there (the zero value and false when there is none) and
// returns the value to write, or false to leave it. A concurrent writer
// makes it read and try again, so two status writers never lose an update.
func updateJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string, change func(have T, exists bool) (T, bool)) error {
	for {
		var have T
		e, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			e = nil
		case err != nil:
			return fmt.Errorf("read %s: %w", key, err)
		default:
			if err := json.Unmarshal(e.Value(), &have); err != nil {
				return fmt.Errorf("read %s: %w", key, err)
			}
		}
		to, write := change(have, e != nil)
		if !write {
			return nil
		}
		v, err := json.Marshal(to)
		if err != nil {
			return err
		}
		if e == nil {
			_, err = kv.Create(ctx, key, v)
		} else {
			_, err = kv.Update(ctx, key, v, e.Revision())
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongLastSequence(err) {
			return fmt.Errorf("write %s: %w", key, err)
		}
	}
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// countLines is the number of records of a JSON lines message: its
// non-empty lines.
func countLines(data []byte) int {
	n := 0
	for range recordLines(data) {
		n++
	}
	return n
}

// Status returns the status of the request at stream sequence seq of
// endpoint, in every job whose statuses of the endpoint are kept.
func (in *Ingest) Status(ctx context.Context, endpoint string, seq uint64) (*IngestRequestStatus, error) {
	st, err := in.js.Stream(ctx, IngestStream(endpoint))
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", endpoint, err)
	}
	m, err := st.GetMsg(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: request %d: %w", endpoint, seq, err)
	}
	out := &IngestRequestStatus{ID: m.Header.Get(HeaderIngestID), Endpoint: endpoint, Sequence: seq, Records: 1, Jobs: []IngestStatus{}}
	if m.Header.Get(HeaderRecords) == recordsLines {
		out.Records = countLines(m.Data)
	}
	kv, err := in.statusKV(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := kv.ListKeysFiltered(ctx, endpoint+".*.done")
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", ingestStatusBucket, err)
	}
	for key := range keys.Keys() {
		job := strings.TrimSuffix(strings.TrimPrefix(key, endpoint+"."), ".done")
		s := IngestStatus{Job: job, Status: StatusPending}
		e, err := kv.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		var done ingestDone
		if err := json.Unmarshal(e.Value(), &done); err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		switch e, err := kv.Get(ctx, nackKey(endpoint, job, seq)); {
		case err == nil:
			if err := json.Unmarshal(e.Value(), &s.Failed); err != nil {
				return nil, fmt.Errorf("read %s: %w", e.Key(), err)
			}
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return nil, fmt.Errorf("read %s: %w", nackKey(endpoint, job, seq), err)
		}
		if done.Seq > seq || done.Seq == seq && done.Records >= uint64(out.Records) {
			s.Status = StatusAcked
			if len(s.Failed) > 0 {
				s.Status = StatusNacked
			}
		}
		out.Jobs = append(out.Jobs, s)
	}
	slices.SortFunc(out.Jobs, func(x, y IngestStatus) int { return cmp.Compare(x.Job, y.Job) })
	return out, nil
}

// requestSequence is the {sequence} of a request route; false after it
// answered 400.
func requestSequence(w http.ResponseWriter, r *http.Request) (string, uint64, bool) {
	endpoint := r.PathValue("endpoint")
	if err := checkEndpoint(endpoint); err != nil {
		http.Error(w, "ingest endpoint: "+err.Error(), http.StatusNotFound)
		return "", 0, false
	}
	seq, err := strconv.ParseUint(r.PathValue("sequence"), 10, 64)
	if err != nil || seq == 0 {
		http.Error(w, fmt.Sprintf("request sequence %q: want the sequence (a number from 1) that the request's 202 answered", r.PathValue("sequence")), http.StatusBadRequest)
		return "", 0, false
	}
	return endpoint, seq, true
}

// noRequest answers 404 for a request the stream does not hold, or 503.
func (in *Ingest) noRequest(w http.ResponseWriter, endpoint string, seq uint64, err error) {
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrMsgNotFound) {
		http.Error(w, fmt.Sprintf("no request %d at endpoint %s (it never was, or its retention of %v passed)", seq, endpoint, in.opts.Retention.Round(time.Second)), http.StatusNotFound)
		return
	}
	http.Error(w, err.Error(), http.StatusServiceUnavailable)
}

// ReplayHandler serves IngestReplayPath: the stored request's body, format
// and key are ingested again as a new request (its Idempotency-Key, or a new
// id), with HeaderReplayOf naming the original. The answer is the new
// request's, as for IngestPath.
func (in *Ingest) ReplayHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		endpoint, seq, ok := requestSequence(w, r)
		if !ok {
			return
		}
		id, ok := requestID(w, r)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		st, err := in.js.Stream(ctx, IngestStream(endpoint))
		if err != nil {
			in.noRequest(w, endpoint, seq, err)
			return
		}
		orig, err := st.GetMsg(ctx, seq)
		if err != nil {
			in.noRequest(w, endpoint, seq, err)
			return
		}
		m := nats.NewMsg(ingestSubjectPrefix + endpoint)
		m.Data = orig.Data
		m.Header.Set(HeaderKey, orig.Header.Get(HeaderKey))
		records := 1
		if orig.Header.Get(HeaderRecords) == recordsLines {
			m.Header.Set(HeaderRecords, recordsLines)
			records = countLines(orig.Data)
		}
		m.Header.Set(HeaderReplayOf, strconv.FormatUint(seq, 10))
		in.store(w, r, endpoint, id, m, records)
	})
}

// StatusHandler serves IngestStatusPath.
func (in *Ingest) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		endpoint, seq, ok := requestSequence(w, r)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		s, err := in.Status(ctx, endpoint, seq)
		if err != nil {
			in.noRequest(w, endpoint, seq, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
	})
}

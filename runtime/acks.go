package runtime

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AckBatch is the final status of messages From to To-1 of one source split:
// each is ACKed, when every record derived from it ran through the job and
// the checkpoint that covers it is committed at the sinks, unless Nacks
// lists it: some of its derived records went to the dead-letter queue
// instead. Records derive from a message when they carry its tracking id:
// what operators emit while they process it, on every path to the sinks
// (docs/acks.md).
type AckBatch struct {
	Job    string `json:"job"`
	Source string `json:"source"`
	Split  string `json:"split"`
	// Checkpoint is the checkpoint whose commit decided the statuses.
	Checkpoint int64 `json:"checkpoint"`
	// From and To bound the messages' record numbers in their split, from 0:
	// with Job, Source and Split a record number names a message across
	// replays (MessageID).
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
	// FromPosition and ToPosition are the split's source positions (as the
	// source's SplitReader.Position gives them) before message From and
	// after message To-1, for a target that names messages the source's way
	// (an ingest request, a stream sequence); nil at the split's beginning,
	// and in a Slice's inner ends.
	FromPosition []byte `json:"fromPosition,omitempty"`
	ToPosition   []byte `json:"toPosition,omitempty"`
	// Nacks are the NACKed messages of the range, in record number order.
	Nacks []Nack `json:"nacks,omitempty"`
}

// Nack is a message some of whose derived records failed.
type Nack struct {
	Seq        uint64 `json:"seq"` // its record number in the split
	TrackingID uint64 `json:"trackingId"`
	// Failed lists the derived records that failed, in DLQ id order.
	Failed []AckPart `json:"failed"`
}

// AckPart is one failed record derived from a message: its dead-letter
// entry, which `weir dlq get` shows in full and `weir dlq resubmit` retries.
type AckPart struct {
	DLQ      int64  `json:"dlq"` // the entry's id in the job's DLQ
	Operator string `json:"operator"`
	Key      []byte `json:"key,omitempty"`
	Error    string `json:"error"`
}

// MessageID is the stable name of message seq of a split,
// "<job>/<source>/<split>/<seq>": the same in every replay.
func MessageID(job, source, split string, seq uint64) string {
	return fmt.Sprintf("%s/%s/%s/%d", job, source, split, seq)
}

// ID is the batch's stable name, "<job>/<source>/<split>/<from>-<to>": the
// same in every delivery of the checkpoint, so a target deduplicates
// redeliveries by it (JetStream's Nats-Msg-Id, an HTTP Idempotency-Key).
func (b *AckBatch) ID() string {
	return fmt.Sprintf("%s/%s/%s/%d-%d", b.Job, b.Source, b.Split, b.From, b.To)
}

// Slice returns the part of b for messages from to to-1 (within b's range),
// for a target that sends a batch in pieces.
func (b *AckBatch) Slice(from, to uint64) AckBatch {
	out := *b
	out.From, out.To, out.Nacks = from, to, nil
	if from != b.From {
		out.FromPosition = nil
	}
	if to != b.To {
		out.ToPosition = nil
	}
	for _, n := range b.Nacks {
		if n.Seq >= from && n.Seq < to {
			out.Nacks = append(out.Nacks, n)
		}
	}
	return out
}

// Limits of the statuses a target sends as one message (option batch).
const (
	// DefaultAckBatch is how many messages' statuses one target message
	// holds by default: a message per status would cost about as much as
	// the record itself (docs/BENCHMARKS.md).
	DefaultAckBatch = 1000
	// MaxAckBatch is the most a target's batch option allows.
	MaxAckBatch = 100000
)

// AckBatchSize checks a target's batch option n: 0 gives DefaultAckBatch,
// else it must be in 1..MaxAckBatch.
func AckBatchSize(n int) (uint64, error) {
	switch {
	case n == 0:
		return DefaultAckBatch, nil
	case n < 1 || n > MaxAckBatch:
		return 0, fmt.Errorf("%d is not in 1..%d", n, MaxAckBatch)
	}
	return uint64(n), nil
}

// AckPieces cuts batches into the pieces a target sends as one message each,
// and hands each piece with its JSON encoding (the format of docs/acks.md) to
// send, in order. A batch is cut at multiples of size, so that a piece's id
// depends as little as possible on where the checkpoint's range starts; a
// piece whose JSON is over maxBytes (long NACK errors) is halved until it
// fits or holds one message. The cuts depend on the batches alone, so every
// delivery of a checkpoint sends the same pieces with the same ids
// (AckBatch.ID): a target deduplicates the repeats by them.
func AckPieces(batches []AckBatch, size uint64, maxBytes int, send func(AckBatch, []byte) error) error {
	if size == 0 {
		panic("runtime: AckPieces with size 0")
	}
	for _, b := range batches {
		for lo := b.From; lo < b.To; {
			hi := min(b.To, (lo/size+1)*size)
			if err := ackPiece(b.Slice(lo, hi), maxBytes, send); err != nil {
				return err
			}
			lo = hi
		}
	}
	return nil
}

func ackPiece(b AckBatch, maxBytes int, send func(AckBatch, []byte) error) error {
	body, err := json.Marshal(&b)
	if err != nil {
		return fmt.Errorf("%s: %w", b.ID(), err)
	}
	if len(body) <= maxBytes || b.To-b.From == 1 {
		// NB: one message's statuses over the bound go out whole: a target
		// whose broker refuses them names the batch in its error.
		return send(b, body)
	}
	mid := b.From + (b.To-b.From)/2
	if err := ackPiece(b.Slice(b.From, mid), maxBytes, send); err != nil {
		return err
	}
	return ackPiece(b.Slice(mid, b.To), maxBytes, send)
}

// AckSink receives the final status of every input message of a job.
//
// Deliver is called after each checkpoint is committed at the sinks, with one
// batch per source split that read messages since the previous checkpoint,
// in source and split order. Delivery is at least once: after a crash, the
// restored checkpoint's batches are delivered again (same IDs), so a target
// must deduplicate by AckBatch.ID (or MessageID) to see exactly one status
// per message. An error fails the attempt; the restart delivers again.
type AckSink interface {
	Deliver(ctx context.Context, batches []AckBatch) error
}

// ackStart is where a split's next checkpoint range starts: the record
// number and source position at the previous complete checkpoint.
type ackStart struct {
	records  uint64
	position []byte
}

// ackRanges records in m, per source split, where the records the
// checkpoint covers start (SplitSnapshot.AckFrom and AckPosition): the
// split's Records and Position at the previous complete checkpoint, from
// (source -> split -> start).
func ackRanges(m *Manifest, from map[string]map[string]ackStart) {
	for name, s := range m.Sources {
		for id, sp := range s.Splits {
			start := from[name][id]
			sp.AckFrom, sp.AckPosition = start.records, start.position
			s.Splits[id] = sp
		}
	}
}

// ackedRecords returns, per source split, the Records and Position of m:
// where the next checkpoint's range starts.
func ackedRecords(m *Manifest) map[string]map[string]ackStart {
	out := map[string]map[string]ackStart{}
	if m == nil {
		return out
	}
	for name, s := range m.Sources {
		out[name] = map[string]ackStart{}
		for id, sp := range s.Splits {
			out[name][id] = ackStart{sp.Records, sp.Position}
		}
	}
	return out
}

// acksOf returns the statuses that checkpoint m decided: of the records its
// sources read since the previous complete checkpoint, NACKed with the
// entries of dlq that m added and that carry their tracking ids.
func acksOf(job *Job, splitNames [][]string, m *Manifest, dlq *dlqLog) []AckBatch {
	failed := map[uint64][]AckPart{}
	for _, d := range dlq.sorted() {
		if d.Checkpoint == m.Checkpoint && d.Attempt <= 1 {
			failed[d.TrackingID] = append(failed[d.TrackingID], AckPart{DLQ: d.ID, Operator: d.Operator, Key: d.Key, Error: d.Error})
		}
	}
	var out []AckBatch
	for si, n := range job.Sources {
		s := m.Sources[n.Name]
		if s == nil || si >= len(splitNames) {
			continue
		}
		for i, id := range splitNames[si] {
			sp, ok := s.Splits[id]
			if !ok || sp.AckFrom >= sp.Records {
				continue
			}
			b := AckBatch{Job: job.Name, Source: n.Name, Split: id, Checkpoint: m.Checkpoint, From: sp.AckFrom, To: sp.Records,
				FromPosition: sp.AckPosition, ToPosition: sp.Position}
			// NB: walk the failures, not the range: a range may hold millions.
			for tid, parts := range failed {
				src, split, seq := int(tid>>56)-1, int(tid>>40&0xffff), tid&(1<<40-1)
				if src == si && split == i && seq >= b.From && seq < b.To {
					b.Nacks = append(b.Nacks, Nack{Seq: seq, TrackingID: tid, Failed: parts})
				}
			}
			slices.SortFunc(b.Nacks, func(x, y Nack) int { return cmp.Compare(x.Seq, y.Seq) })
			out = append(out, b)
		}
	}
	return out
}

// deliverAcks hands the statuses checkpoint m decided to the job's AckSink,
// if it has one, unless the checkpoint's ACKED marker says they went out
// before, and then writes the marker.
//
// The marker keeps a restore long after a checkpoint (hours later, say) from
// delivering its statuses again past the target's deduplication window. Only
// a crash between a delivery and its marker delivers twice, and then within
// a restart's time, which the window covers (see plugins/nats.Acks).
func deliverAcks(ctx context.Context, job *Job, store SnapshotStore, splitNames [][]string, m *Manifest, dlq *dlqLog) error {
	if job.Acks == nil || m == nil {
		return nil
	}
	switch r, err := store.Get(ctx, ackedObject(m.Checkpoint)); {
	case err == nil:
		r.Close()
		return nil
	case !errors.Is(err, ErrNotExist):
		return fmt.Errorf("checkpoint %d: read the ACKED marker: %w", m.Checkpoint, err)
	}
	if batches := acksOf(job, splitNames, m, dlq); len(batches) > 0 {
		if err := job.Acks.Deliver(ctx, batches); err != nil {
			var n uint64
			for _, b := range batches {
				n += b.To - b.From
			}
			return fmt.Errorf("deliver the ACK/NACKs of checkpoint %d (%d messages): %w", m.Checkpoint, n, err)
		}
	}
	if err := store.Put(ctx, ackedObject(m.Checkpoint), strings.NewReader("")); err != nil {
		return fmt.Errorf("checkpoint %d: write the ACKED marker: %w", m.Checkpoint, err)
	}
	return nil
}

// ackedObject is the marker of checkpoint id whose statuses were delivered.
func ackedObject(id int64) string {
	return fmt.Sprintf("%s%020d/%s", checkpointsDir, id, ackedName)
}

const ackedName = "ACKED"

// redeliverFinishedAcks delivers again the statuses of m, the final
// checkpoint of a finished job, in case the process died before they went out.
func redeliverFinishedAcks(ctx context.Context, job *Job, store SnapshotStore, m *Manifest) error {
	if job.Acks == nil {
		return nil
	}
	names := make([][]string, len(job.Sources))
	for i, n := range job.Sources {
		splits, err := n.Source.Splits(ctx)
		if err != nil {
			return fmt.Errorf("source %q: list splits: %w", n.Name, err)
		}
		names[i] = splits
	}
	dlq, err := loadDLQ(ctx, store, m)
	if err != nil {
		return err
	}
	return deliverAcks(ctx, job, store, names, m, dlq)
}

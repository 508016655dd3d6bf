package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/weirstream/weir/runtime"
)

// Acks is an in-memory runtime.AckSink that keeps the first status of each
// message (by runtime.MessageID), as a deduplicating target does, and counts
// the rest. It outlives every attempt, and is safe for concurrent use.
type Acks struct {
	mu         sync.Mutex
	first      map[string]Status
	order      []string
	deliveries int
	conflicts  []string
}

// Status is the status of one message.
type Status struct {
	ID            string // runtime.MessageID
	Source, Split string
	Seq           uint64
	Checkpoint    int64
	TrackingID    uint64            // of a NACK
	Failed        []runtime.AckPart // empty: an ACK
}

// OK says the message was ACKed.
func (s *Status) OK() bool { return len(s.Failed) == 0 }

func (s *Status) String() string {
	if s.OK() {
		return fmt.Sprintf("ACK at checkpoint %d", s.Checkpoint)
	}
	return fmt.Sprintf("NACK(%d parts) at checkpoint %d", len(s.Failed), s.Checkpoint)
}

var _ runtime.AckSink = (*Acks)(nil)

// NewAcks returns an empty Acks.
func NewAcks() *Acks { return &Acks{first: map[string]Status{}} }

// Deliver keeps the first status of each message of batches.
func (a *Acks) Deliver(ctx context.Context, batches []runtime.AckBatch) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range batches {
		nacks := b.Nacks
		for seq := b.From; seq < b.To; seq++ {
			st := Status{ID: runtime.MessageID(b.Job, b.Source, b.Split, seq), Source: b.Source, Split: b.Split, Seq: seq, Checkpoint: b.Checkpoint}
			if len(nacks) > 0 && nacks[0].Seq == seq {
				st.TrackingID, st.Failed = nacks[0].TrackingID, slices.Clone(nacks[0].Failed)
				nacks = nacks[1:]
			}
			a.deliveries++
			prev, ok := a.first[st.ID]
			if !ok {
				a.first[st.ID] = st
				a.order = append(a.order, st.ID)
				continue
			}
			if prev.OK() != st.OK() || len(prev.Failed) != len(st.Failed) {
				a.conflicts = append(a.conflicts, fmt.Sprintf("%s: delivered as %s, then as %s", st.ID, &prev, &st))
			}
		}
		if len(nacks) > 0 {
			a.conflicts = append(a.conflicts, fmt.Sprintf("batch %s: NACK of %d out of its range or order", b.ID(), nacks[0].Seq))
		}
	}
	return nil
}

// Statuses returns the first status of each message, in delivery order.
func (a *Acks) Statuses() []Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Status, len(a.order))
	for i, id := range a.order {
		out[i] = a.first[id]
		out[i].Failed = slices.Clone(out[i].Failed)
	}
	return out
}

// Deliveries counts every status delivered, redeliveries included.
func (a *Acks) Deliveries() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.deliveries
}

// Conflicts lists the messages delivered again with another status than
// their first: each one a broken promise of one final status per message.
func (a *Acks) Conflicts() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.conflicts)
}

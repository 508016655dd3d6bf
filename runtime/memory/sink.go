package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Sink is an in-memory transactional sink, standing in for an external system
// that survives crashes of the job: its committed output outlives every attempt.
// A record is rendered "key=value". It is safe for concurrent use.
type Sink struct {
	mu        sync.Mutex
	nextTxn   int
	pending   map[int][]string     // open and pre-committed transactions
	committed map[int]committedTxn // by transaction
	// Commits counts Commit calls, for tests.
	commits int
}

type committedTxn struct {
	checkpoint int64
	lines      []string
}

type committable struct {
	Txn int `json:"txn"`
}

// NewSink returns an empty Sink.
func NewSink() *Sink { return &Sink{pending: map[int][]string{}, committed: map[int]committedTxn{}} }

var _ runtime.Sink = (*Sink)(nil)

// OpenWriter opens a writer with its first transaction.
func (s *Sink) OpenWriter(ctx context.Context, info runtime.SinkInfo) (runtime.SinkWriter, error) {
	w := &writer{s: s}
	w.txn = s.begin()
	return w, nil
}

func (s *Sink) begin() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextTxn++
	s.pending[s.nextTxn] = nil
	return s.nextTxn
}

// Commit makes the committables' transactions visible; committing one twice
// does nothing.
func (s *Sink) Commit(ctx context.Context, checkpointID int64, committables [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits++
	for _, c := range committables {
		if c == nil {
			continue
		}
		var cm committable
		if err := json.Unmarshal(c, &cm); err != nil {
			return fmt.Errorf("memory sink: bad committable %q: %w", c, err)
		}
		if _, done := s.committed[cm.Txn]; done {
			continue
		}
		lines, ok := s.pending[cm.Txn]
		if !ok {
			return fmt.Errorf("memory sink: transaction %d of checkpoint %d is neither pending nor committed: output lost", cm.Txn, checkpointID)
		}
		s.committed[cm.Txn] = committedTxn{checkpoint: checkpointID, lines: lines}
		delete(s.pending, cm.Txn)
	}
	return nil
}

// Recover commits committables, aborts every other pending transaction, and
// removes what checkpoints after checkpointID committed.
func (s *Sink) Recover(ctx context.Context, checkpointID int64, committables [][]byte) error {
	if err := s.Commit(ctx, checkpointID, committables); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.pending)
	for txn, c := range s.committed {
		if c.checkpoint > checkpointID {
			delete(s.committed, txn)
		}
	}
	return nil
}

// Committed returns every committed record, sorted.
func (s *Sink) Committed() []string { return s.CommittedAfter(0) }

// CommittedAfter returns the records committed by the checkpoints after
// checkpoint (0: every one), sorted.
func (s *Sink) CommittedAfter(checkpoint int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.committed {
		if c.checkpoint > checkpoint {
			out = append(out, c.lines...)
		}
	}
	sort.Strings(out)
	return out
}

type writer struct {
	s   *Sink
	txn int
}

func (w *writer) Write(ctx context.Context, batch []byte) error {
	var lines []string
	r := abi.NewReader(batch)
	for r.Next() {
		e := r.Entry()
		lines = append(lines, string(e.Key)+"="+string(e.Value))
	}
	if r.Err() != nil {
		return r.Err()
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.pending[w.txn] = append(w.s.pending[w.txn], lines...)
	return nil
}

func (w *writer) PreCommit(ctx context.Context, checkpointID int64) ([]byte, error) {
	w.s.mu.Lock()
	empty := len(w.s.pending[w.txn]) == 0
	w.s.mu.Unlock()
	if empty {
		return nil, nil
	}
	c, _ := json.Marshal(committable{Txn: w.txn})
	w.txn = w.s.begin()
	return c, nil
}

func (w *writer) Close() error { return nil }

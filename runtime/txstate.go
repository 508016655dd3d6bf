package runtime

import (
	"bytes"
	"context"
	"sort"
)

// txState puts a write overlay in front of a subtask's StateBackend so that the
// state writes of one operator call can be kept or thrown away as a whole. The
// failure policy (failure.go) needs this: a retried or dead-lettered record
// must leave no trace of its failed tries in the state, or a retry would count
// twice what exactly-once counts once.
//
// Between begin and commit/rollback, Set, Delete and DeleteRange are logged
// rather than applied, and Get and Scan see the base with the log applied. Outside
// a transaction every call goes straight to the base. A transaction holds the
// writes of one batch at most, so its memory is bounded by what the guest
// writes in one call.
type txState struct {
	base   StateBackend
	active bool
	ops    []txOp
	points map[string]int // key -> index in ops of its latest Set or Delete
	ranges []int          // indices in ops of the DeleteRanges, in order
}

type txOpKind uint8

const (
	txSet txOpKind = iota
	txDelete
	txDeleteRange
)

type txOp struct {
	kind     txOpKind
	key, val []byte // val is the range end for txDeleteRange
}

var _ StateBackend = (*txState)(nil)

func newTxState(base StateBackend) *txState {
	return &txState{base: base, points: map[string]int{}}
}

// begin starts logging writes.
func (s *txState) begin() { s.active = true }

// commit applies the logged writes to the base in order and ends the transaction.
func (s *txState) commit() error {
	s.active = false
	var err error
	for _, op := range s.ops {
		switch op.kind {
		case txSet:
			err = s.base.Set(op.key, op.val)
		case txDelete:
			err = s.base.Delete(op.key)
		case txDeleteRange:
			err = s.base.DeleteRange(op.key, op.val)
		}
		if err != nil {
			break
		}
	}
	s.reset()
	return err
}

// rollback drops the logged writes and ends the transaction.
func (s *txState) rollback() {
	s.active = false
	s.reset()
}

func (s *txState) reset() {
	clear(s.ops) // do not keep the keys reachable
	s.ops, s.ranges = s.ops[:0], s.ranges[:0]
	clear(s.points)
}

// lookup returns what the log says of key: found reports whether the log
// decides it, and then ok whether the key has a value.
func (s *txState) lookup(key []byte) (val []byte, ok, found bool) {
	i, isPoint := s.points[string(key)]
	if !isPoint {
		i = -1
	}
	for j := len(s.ranges) - 1; j >= 0 && s.ranges[j] > i; j-- {
		r := s.ops[s.ranges[j]]
		if bytes.Compare(key, r.key) >= 0 && bytes.Compare(key, r.val) < 0 {
			return nil, false, true // deleted by a range after the latest point write
		}
	}
	if !isPoint {
		return nil, false, false
	}
	if op := s.ops[i]; op.kind == txSet {
		return op.val, true, true
	}
	return nil, false, true
}

// Get returns the value of key as the transaction sees it.
func (s *txState) Get(key []byte) ([]byte, bool, error) {
	if len(s.ops) > 0 {
		if v, ok, found := s.lookup(key); found {
			return v, ok, nil
		}
	}
	return s.base.Get(key)
}

// Set stores key and value.
func (s *txState) Set(key, value []byte) error {
	if !s.active {
		return s.base.Set(key, value)
	}
	s.points[string(key)] = len(s.ops)
	s.ops = append(s.ops, txOp{kind: txSet, key: bytes.Clone(key), val: append([]byte{}, value...)})
	return nil
}

// Delete removes key.
func (s *txState) Delete(key []byte) error {
	if !s.active {
		return s.base.Delete(key)
	}
	s.points[string(key)] = len(s.ops)
	s.ops = append(s.ops, txOp{kind: txDelete, key: bytes.Clone(key)})
	return nil
}

// DeleteRange removes the keys in [start, end).
func (s *txState) DeleteRange(start, end []byte) error {
	if !s.active {
		return s.base.DeleteRange(start, end)
	}
	s.ranges = append(s.ranges, len(s.ops))
	s.ops = append(s.ops, txOp{kind: txDeleteRange, key: bytes.Clone(start), val: bytes.Clone(end)})
	return nil
}

// covered reports whether a DeleteRange of the log covers key.
func (s *txState) covered(key []byte) bool {
	for _, j := range s.ranges {
		r := s.ops[j]
		if bytes.Compare(key, r.key) >= 0 && bytes.Compare(key, r.val) < 0 {
			return true
		}
	}
	return false
}

// Scan merges the base's keys in [start, end) with the log's.
func (s *txState) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	if len(s.ops) == 0 {
		return s.base.Scan(start, end, fn)
	}
	var sorted []string // the log's point keys in range, in order
	for k := range s.points {
		if k >= string(start) && k < string(end) {
			sorted = append(sorted, k)
		}
	}
	sort.Strings(sorted)
	next := 0 // the next point key to merge in
	stopped := false
	// emitPoints hands fn the live point keys before limit (all when limit is nil).
	emitPoints := func(limit []byte) bool {
		for ; next < len(sorted) && (limit == nil || sorted[next] < string(limit)); next++ {
			k := []byte(sorted[next])
			if v, ok, _ := s.lookup(k); ok && !fn(k, v) {
				return false
			}
		}
		return true
	}
	err := s.base.Scan(start, end, func(k, v []byte) bool {
		if !emitPoints(k) {
			stopped = true
			return false
		}
		if _, isPoint := s.points[string(k)]; isPoint || s.covered(k) {
			return true // the log's version (if any) is emitted by emitPoints
		}
		if !fn(k, v) {
			stopped = true
			return false
		}
		return true
	})
	if err != nil || stopped {
		return err
	}
	emitPoints(nil)
	return nil
}

// Checkpoint checkpoints the base. INVARIANT: no transaction is open (barriers
// are handled between operator calls).
func (s *txState) Checkpoint(ctx context.Context, checkpointID int64) (Upload, error) {
	if s.active || len(s.ops) > 0 {
		panic("state checkpoint during an open transaction")
	}
	return s.base.Checkpoint(ctx, checkpointID)
}

// Close closes the base.
func (s *txState) Close() error { return s.base.Close() }

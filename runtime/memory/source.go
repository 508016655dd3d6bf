package memory

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Record is a record of a Source.
type Record struct {
	Key, Value string
	Timestamp  int64
}

// Source is a bounded, replayable in-memory source: each split is a list of
// records; a position is the index of the next record.
type Source struct {
	splits    [][]Record
	unbounded bool
}

// NewSource returns a Source with one split per argument.
func NewSource(splits ...[]Record) *Source { return &Source{splits: splits} }

// Unbounded returns a copy of s whose splits never end: past the last record a
// read returns nothing, as a live stream with no new data does.
func (s *Source) Unbounded() *Source { return &Source{splits: s.splits, unbounded: true} }

var _ runtime.Source = (*Source)(nil)

// Splits returns "0", "1", ...
func (s *Source) Splits(ctx context.Context) ([]string, error) {
	out := make([]string, len(s.splits))
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out, nil
}

// Open reads split from position.
func (s *Source) Open(ctx context.Context, split string, position []byte, env runtime.SourceEnv) (runtime.SplitReader, error) {
	var i int
	if _, err := fmt.Sscan(split, &i); err != nil || i < 0 || i >= len(s.splits) {
		return nil, fmt.Errorf("memory source: unknown split %q", split)
	}
	r := &reader{recs: s.splits[i], unbounded: s.unbounded}
	if position != nil {
		if len(position) != 8 {
			return nil, fmt.Errorf("memory source: position of %d bytes, want 8", len(position))
		}
		r.next = int(binary.BigEndian.Uint64(position))
		if r.next > len(r.recs) {
			return nil, fmt.Errorf("memory source: position %d is past the end of split %q (%d records)", r.next, split, len(r.recs))
		}
	}
	return r, nil
}

type reader struct {
	recs      []Record
	next      int
	unbounded bool
}

func (r *reader) Read(ctx context.Context, w *abi.Writer, maxRecords int) (int, error) {
	n := 0
	for ; n < maxRecords && r.next < len(r.recs); n++ {
		rec := r.recs[r.next]
		w.Append(abi.Entry{Key: []byte(rec.Key), Value: []byte(rec.Value), Timestamp: rec.Timestamp})
		r.next++
	}
	if r.next == len(r.recs) && !r.unbounded {
		return n, io.EOF
	}
	return n, nil
}

func (r *reader) Position() []byte { return binary.BigEndian.AppendUint64(nil, uint64(r.next)) }
func (r *reader) Close() error     { return nil }

package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Bounds of the source suite, so that a source that never ends fails the test
// instead of hanging it.
const (
	// maxSourceRecordsPerSplit bounds the records the suite reads from one split.
	maxSourceRecordsPerSplit = 1 << 20
	// maxIdleReads bounds consecutive Read calls that return no record and no
	// io.EOF; a bounded source with no rate limit should not need any.
	maxIdleReads = 10_000
	// sourceBatchRecords is the maxRecords the suite passes to Read by default.
	sourceBatchRecords = 7
	// resumeCutsPerSplit is how many random resume points the suite tries per
	// split, besides after 0, 1 and all records.
	resumeCutsPerSplit = 4
)

// Record is a source record as the suites compare it: the fields of an
// abi.Entry that a source sets, copied out of the batch.
type Record struct {
	Key       string
	Value     string
	Headers   string // encoded headers (abi/ABI.md §4.2)
	Timestamp int64
}

func (r Record) String() string {
	ts := "none"
	if r.Timestamp != abi.NoTimestamp {
		ts = fmt.Sprint(r.Timestamp)
	}
	return fmt.Sprintf("{key %q value %q headers %q ts %s}", r.Key, r.Value, r.Headers, ts)
}

// TestSource checks a bounded runtime.Source against the contract of
// runtime.Source and runtime.SplitReader. newSource is called several times per
// test; each call must return a source over the same data (as a restarted job
// would build from the same job spec). The source must be bounded (every split
// ends with io.EOF) and not rate limited.
//
// It checks that:
//   - Splits is not empty, has no duplicates and is the same on every call and
//     on every instance;
//   - every split reads to io.EOF, each Read appends exactly n valid record
//     entries with n <= maxRecords, and a Read after io.EOF returns 0 and io.EOF;
//   - two full reads by different instances return identical records;
//   - reading with maxRecords 1 returns the same records;
//   - for each split, opening a fresh instance at the position taken after 0,
//     1, all and some (fixed-seed random) records resumes with exactly the
//     remaining records: no loss, no duplicate. The position is used after the
//     reader that returned it has read on, so a position that aliases the
//     reader's buffers fails;
//   - Close works on a reader that never read and on one at io.EOF.
func TestSource(t *testing.T, newSource func(t *testing.T) runtime.Source) {
	t.Helper()
	ctx := context.Background()

	src := newSource(t)
	splits, err := src.Splits(ctx)
	if err != nil {
		t.Fatalf("Splits: %v", err)
	}
	if len(splits) == 0 {
		t.Fatal("Splits returned no split; the suite needs a source with at least one split")
	}
	seen := map[string]bool{}
	for _, s := range splits {
		if seen[s] {
			t.Fatalf("Splits returned split %q twice: %q", s, splits)
		}
		seen[s] = true
	}

	t.Run("splits are stable", func(t *testing.T) {
		again, err := src.Splits(ctx)
		if err != nil {
			t.Fatalf("second Splits call: %v", err)
		}
		if !slices.Equal(again, splits) {
			t.Errorf("second Splits call on the same source returned %q, first returned %q", again, splits)
		}
		other, err := newSource(t).Splits(ctx)
		if err != nil {
			t.Fatalf("Splits on a new instance: %v", err)
		}
		if !slices.Equal(other, splits) {
			t.Errorf("Splits on a new instance returned %q, first instance returned %q", other, splits)
		}
	})

	// want holds every split's records from the first full read.
	want := map[string][]Record{}
	for _, s := range splits {
		recs, _ := sourceReadSplit(t, src, s, nil, sourceBatchRecords)
		want[s] = recs
	}
	total := 0
	for _, s := range splits {
		total += len(want[s])
	}
	t.Logf("%d splits, %d records", len(splits), total)

	t.Run("reads are deterministic", func(t *testing.T) {
		other := newSource(t)
		for _, s := range splits {
			got, _ := sourceReadSplit(t, other, s, nil, sourceBatchRecords+6)
			sourceDiffRecords(t, fmt.Sprintf("split %q, second full read", s), got, want[s])
		}
	})

	t.Run("maxRecords 1", func(t *testing.T) {
		other := newSource(t)
		for _, s := range splits {
			got, _ := sourceReadSplit(t, other, s, nil, 1)
			sourceDiffRecords(t, fmt.Sprintf("split %q read with maxRecords 1", s), got, want[s])
		}
	})

	t.Run("resume from positions", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, s := range splits {
			n := len(want[s])
			cuts := []int{0, min(1, n), n}
			for range resumeCutsPerSplit {
				cuts = append(cuts, rng.IntN(n+1))
			}
			slices.Sort(cuts)
			cuts = slices.Compact(cuts)
			for _, k := range cuts {
				pos := sourcePositionAfter(t, newSource(t), s, k)
				got, _ := sourceReadSplit(t, newSource(t), s, pos, sourceBatchRecords)
				sourceDiffRecords(t, fmt.Sprintf("split %q resumed after %d of %d records", s, k, n), got, want[s][k:])
			}
		}
	})

	t.Run("close", func(t *testing.T) {
		for _, s := range splits {
			r, err := newSource(t).Open(ctx, s, nil, sourceEnv())
			if err != nil {
				t.Fatalf("split %q: Open: %v", s, err)
			}
			if err := r.Close(); err != nil {
				t.Errorf("split %q: Close of a reader that never read: %v", s, err)
			}
		}
	})
}

func sourceEnv() runtime.SourceEnv {
	return runtime.SourceEnv{Clock: runtime.SystemClock{}, Logger: slog.New(slog.DiscardHandler)}
}

// sourceReadSplit opens split at pos, reads it to io.EOF with the given maxRecords,
// checks each Read and the Read after io.EOF, closes the reader, and returns
// the records and the position at io.EOF.
func sourceReadSplit(t *testing.T, src runtime.Source, split string, pos []byte, maxRecords int) ([]Record, []byte) {
	t.Helper()
	ctx := context.Background()
	r, err := src.Open(ctx, split, pos, sourceEnv())
	if err != nil {
		t.Fatalf("split %q: Open at position %x: %v", split, pos, err)
	}
	var (
		recs []Record
		w    abi.Writer
		idle int
	)
	for {
		w.Reset()
		n, err := r.Read(ctx, &w, maxRecords)
		got := sourceCheckBatch(t, split, &w, n, maxRecords)
		recs = append(recs, got...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("split %q: Read after %d records: %v", split, len(recs), err)
		}
		if n == 0 {
			idle++
			if idle > maxIdleReads {
				t.Fatalf("split %q: Read returned no record and no io.EOF %d times in a row after %d records; is the source bounded and unthrottled?", split, idle, len(recs))
			}
		} else {
			idle = 0
		}
		if len(recs) > maxSourceRecordsPerSplit {
			t.Fatalf("split %q: more than %d records without io.EOF; the suite needs a bounded source", split, maxSourceRecordsPerSplit)
		}
	}
	end := bytes.Clone(r.Position())
	w.Reset()
	n, err := r.Read(ctx, &w, maxRecords)
	if n != 0 || w.Count() != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("split %q: Read after io.EOF returned %d records (%d appended) and error %v, want 0 and io.EOF", split, n, w.Count(), err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("split %q: Close at io.EOF: %v", split, err)
	}
	return recs, end
}

// sourceCheckBatch checks what one Read appended to w and returns it as records.
func sourceCheckBatch(t *testing.T, split string, w *abi.Writer, n, maxRecords int) []Record {
	t.Helper()
	if n < 0 || n > maxRecords {
		t.Fatalf("split %q: Read returned n=%d with maxRecords %d", split, n, maxRecords)
	}
	if w.Count() != n {
		t.Fatalf("split %q: Read returned n=%d but appended %d entries", split, n, w.Count())
	}
	b := w.Bytes()
	if err := abi.Validate(b, abi.DefaultLimits, true); err != nil {
		t.Fatalf("split %q: Read appended an invalid batch: %v", split, err)
	}
	recs := make([]Record, 0, n)
	for rd := abi.NewReader(b); rd.Next(); {
		e := rd.Entry()
		recs = append(recs, Record{Key: string(e.Key), Value: string(e.Value), Headers: string(e.Headers), Timestamp: e.Timestamp})
	}
	return recs
}

// sourcePositionAfter opens split from the start, reads exactly k records (asking
// for no more than remain), takes the position, then reads on a little before
// closing, and returns the position slice as the reader returned it.
func sourcePositionAfter(t *testing.T, src runtime.Source, split string, k int) []byte {
	t.Helper()
	ctx := context.Background()
	r, err := src.Open(ctx, split, nil, sourceEnv())
	if err != nil {
		t.Fatalf("split %q: Open: %v", split, err)
	}
	defer r.Close()
	var w abi.Writer
	got, idle := 0, 0
	for got < k {
		w.Reset()
		n, err := r.Read(ctx, &w, min(sourceBatchRecords, k-got))
		sourceCheckBatch(t, split, &w, n, min(sourceBatchRecords, k-got))
		got += n
		if errors.Is(err, io.EOF) && got < k {
			t.Fatalf("split %q: io.EOF after %d records, the first read had more than %d", split, got, k)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("split %q: Read after %d records: %v", split, got, err)
		}
		if n == 0 {
			if idle++; idle > maxIdleReads {
				t.Fatalf("split %q: Read returned no record %d times in a row after %d records", split, idle, got)
			}
		}
	}
	pos := r.Position()
	// Read on, so that a position aliasing the reader's state would change.
	w.Reset()
	if _, err := r.Read(ctx, &w, sourceBatchRecords); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("split %q: Read after %d records: %v", split, got, err)
	}
	return pos
}

// sourceDiffRecords fails t if got differs from want, naming the first difference.
func sourceDiffRecords(t *testing.T, what string, got, want []Record) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("%s: record %d is %v, want %v", what, i, got[i], want[i])
			return
		}
	}
	switch {
	case len(got) > len(want):
		t.Errorf("%s: got %d records, want %d; first extra: %v", what, len(got), len(want), got[len(want)])
	case len(got) < len(want):
		t.Errorf("%s: got %d records, want %d; first missing: %v", what, len(got), len(want), want[len(got)])
	}
}

package conformance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// SinkOptions says what TestSink may expect of a sink.
type SinkOptions struct {
	// RollsBack is true when Recover to a checkpoint removes the output that
	// later checkpoints committed (runtime.Sink.Recover: "where the external
	// system allows it"). When false the rollback case is skipped.
	RollsBack bool
}

// TestSink checks a transactional runtime.Sink against the two-phase-commit
// contract of runtime.Sink and runtime.SinkWriter.
//
// Each case runs as a subtest with its own t. newSink(t) is called one or more
// times per subtest: calls with the same t must return sinks over the same
// output (a second call stands for the job after a crash), and calls with
// different subtests must not share output. committed(t) returns the value of
// every record committed to that subtest's output, in any order (the suite
// sorts them): for a file of lines, its lines.
//
// The suite writes records with distinct printable values (letters, digits and
// '-', no newline or tab), keys and timestamps, and checks that:
//   - output is visible only after Commit, never after PreCommit alone;
//   - Commit called again, also on a new instance, adds no duplicate;
//   - Recover with a checkpoint's committables, after a crash between
//     PreCommit and Commit, makes that output visible exactly once, also when
//     Recover itself runs twice;
//   - pending work that is not in the restored checkpoint (pre-committed for a
//     checkpoint that never completed, also one whose id a later attempt
//     reuses, or written and never pre-committed) is gone after Recover, and
//     its replay commits each record once;
//   - several writers (subtasks) writing at once commit the union of their
//     records;
//   - an empty transaction (no Write, or an empty batch) commits nothing and
//     does not disturb the next one;
//   - a large transaction commits every record;
//   - a sink that is an io.Closer (runtime.Sink) commits again after Close;
//   - if opts.RollsBack, Recover to an older checkpoint (or to 0) removes the
//     output of the later checkpoints.
func TestSink(t *testing.T, newSink func(t *testing.T) runtime.Sink, committed func(t *testing.T) []string, opts SinkOptions) {
	t.Helper()
	ctx := context.Background()

	t.Run("commit makes output visible", func(t *testing.T) {
		s := newSink(t)
		sinkRecover(t, s, 0, nil)
		w := sinkOpenWriter(t, s, 0, 1)
		a := sinkValues("a", 0, 10)
		sinkWrite(t, w, a[:4])
		sinkWrite(t, w, a[4:])
		c1 := sinkPreCommit(t, w, 1)
		sinkCheckCommitted(t, committed, nil, "after PreCommit(1) without Commit")
		sinkCommit(t, s, 1, c1)
		sinkCheckCommitted(t, committed, a, "after Commit(1)")
		b := sinkValues("b", 0, 3)
		sinkWrite(t, w, b)
		c2 := sinkPreCommit(t, w, 2)
		sinkCheckCommitted(t, committed, a, "after PreCommit(2) without Commit")
		sinkCommit(t, s, 2, c2)
		sinkCheckCommitted(t, committed, sinkConcat(a, b), "after Commit(2)")
		sinkCloseWriter(t, w)
	})

	t.Run("a closed sink commits again", func(t *testing.T) {
		s := newSink(t)
		c, ok := s.(io.Closer)
		if !ok {
			t.Skip("the sink holds nothing to close (it is no io.Closer)")
		}
		sinkRecover(t, s, 0, nil)
		w := sinkOpenWriter(t, s, 0, 1)
		a, b := sinkValues("a", 0, 4), sinkValues("b", 0, 4)
		sinkWrite(t, w, a)
		sinkCommit(t, s, 1, sinkPreCommit(t, w, 1))
		for range 2 { // the runtime closes once per run; twice must be harmless
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		sinkWrite(t, w, b)
		sinkCommit(t, s, 2, sinkPreCommit(t, w, 2))
		sinkCheckCommitted(t, committed, sinkConcat(a, b), "after Commit(1), Close and Commit(2)")
		sinkCloseWriter(t, w)
		if err := c.Close(); err != nil {
			t.Fatalf("Close after the commit: %v", err)
		}
	})

	t.Run("commit is idempotent", func(t *testing.T) {
		s := newSink(t)
		sinkRecover(t, s, 0, nil)
		w := sinkOpenWriter(t, s, 0, 1)
		a := sinkValues("a", 0, 5)
		sinkWrite(t, w, a)
		c1 := sinkPreCommit(t, w, 1)
		sinkCommit(t, s, 1, c1)
		sinkCommit(t, s, 1, c1)
		sinkCheckCommitted(t, committed, a, "after Commit(1) twice")
		sinkCommit(t, newSink(t), 1, c1)
		sinkCheckCommitted(t, committed, a, "after Commit(1) again on a new instance")
		sinkCloseWriter(t, w)
	})

	// The coordinator carries the pre-commits of an abandoned checkpoint into
	// the next one: Commit(N) and Recover(N) then hold committables of
	// checkpoints before N beside N's own.
	t.Run("commit and recover take committables carried from an abandoned checkpoint", func(t *testing.T) {
		s := newSink(t)
		sinkRecover(t, s, 0, nil)
		w := sinkOpenWriter(t, s, 0, 1)
		a := sinkValues("a", 0, 5)
		sinkWrite(t, w, a)
		c1 := sinkPreCommit(t, w, 1) // checkpoint 1 is abandoned after this
		b := sinkValues("b", 0, 3)
		sinkWrite(t, w, b)
		c2 := sinkPreCommit(t, w, 2)
		sinkCheckCommitted(t, committed, nil, "after PreCommit(1) and PreCommit(2) without Commit")
		carried := slices.Concat(c1, c2)
		sinkCommit(t, s, 2, carried)
		sinkCheckCommitted(t, committed, sinkConcat(a, b), "after Commit(2) of checkpoint 1's and 2's committables")
		sinkCloseWriter(t, w)
		sinkRecover(t, newSink(t), 2, carried) // crash after the commit: recover again
		sinkCheckCommitted(t, committed, sinkConcat(a, b), "after Recover(2) of the same committables")
	})

	t.Run("recover commits the restored checkpoint", func(t *testing.T) {
		s := newSink(t)
		sinkRecover(t, s, 0, nil)
		w := sinkOpenWriter(t, s, 0, 1)
		a := sinkValues("a", 0, 6)
		sinkWrite(t, w, a)
		c1 := sinkPreCommit(t, w, 1)
		sinkCloseWriter(t, w) // crash after the checkpoint completed, before Commit
		sinkCheckCommitted(t, committed, nil, "after PreCommit(1) and a crash before Commit")

		sinkRecover(t, newSink(t), 1, c1)
		sinkCheckCommitted(t, committed, a, "after Recover(1)")
		s3 := newSink(t)
		sinkRecover(t, s3, 1, c1) // crash during recovery, recover again
		sinkCheckCommitted(t, committed, a, "after Recover(1) twice")

		w3 := sinkOpenWriter(t, s3, 0, 1)
		b := sinkValues("b", 0, 4)
		sinkWrite(t, w3, b)
		sinkCommit(t, s3, 2, sinkPreCommit(t, w3, 2))
		sinkCheckCommitted(t, committed, sinkConcat(a, b), "after Recover(1) and Commit(2)")
		sinkCloseWriter(t, w3)
	})

	t.Run("recover aborts pending work", func(t *testing.T) {
		s := newSink(t)
		sinkRecover(t, s, 0, nil)
		w := sinkOpenWriter(t, s, 0, 1)
		a, b, c := sinkValues("a", 0, 5), sinkValues("b", 0, 5), sinkValues("c", 0, 5)
		sinkWrite(t, w, a)
		c1 := sinkPreCommit(t, w, 1)
		sinkCommit(t, s, 1, c1)
		sinkWrite(t, w, b)
		sinkPreCommit(t, w, 2) // checkpoint 2 never completes
		sinkWrite(t, w, c)     // never pre-committed
		sinkCloseWriter(t, w)  // crash

		s2 := newSink(t)
		sinkRecover(t, s2, 1, c1)
		sinkCheckCommitted(t, committed, a, "after Recover(1) with checkpoint 2 pending")

		// The restarted job replays b and c; each must be committed once.
		w2 := sinkOpenWriter(t, s2, 0, 1)
		sinkWrite(t, w2, b)
		sinkCommit(t, s2, 2, sinkPreCommit(t, w2, 2))
		sinkWrite(t, w2, c)
		sinkCommit(t, s2, 3, sinkPreCommit(t, w2, 3))
		sinkCheckCommitted(t, committed, sinkConcat(a, b, c), "after the replay of checkpoints 2 and 3")
		sinkCloseWriter(t, w2)
	})

	t.Run("recover after an attempt that reused the checkpoint id", func(t *testing.T) {
		// Attempt 1 pre-commits checkpoint 2, which never completes. Attempt 2
		// restarts from 1, pre-commits its own checkpoint 2, which completes,
		// and crashes before Commit. Attempt 3 must commit attempt 2's work only.
		s := newSink(t)
		sinkRecover(t, s, 0, nil)
		w := sinkOpenWriter(t, s, 0, 1)
		a, b := sinkValues("a", 0, 4), sinkValues("b", 0, 4)
		sinkWrite(t, w, a)
		c1 := sinkPreCommit(t, w, 1)
		sinkCommit(t, s, 1, c1)
		sinkWrite(t, w, b)
		sinkPreCommit(t, w, 2)
		sinkCloseWriter(t, w)

		s2 := newSink(t)
		sinkRecover(t, s2, 1, c1)
		w2 := sinkOpenWriter(t, s2, 0, 1)
		sinkWrite(t, w2, b)
		c2 := sinkPreCommit(t, w2, 2)
		sinkCloseWriter(t, w2)

		sinkRecover(t, newSink(t), 2, c2)
		sinkCheckCommitted(t, committed, sinkConcat(a, b), "after Recover(2) of the second attempt's checkpoint 2")
	})

	t.Run("recover from nothing aborts everything pending", func(t *testing.T) {
		s := newSink(t)
		sinkRecover(t, s, 0, nil)
		w := sinkOpenWriter(t, s, 0, 1)
		sinkWrite(t, w, sinkValues("a", 0, 5))
		sinkPreCommit(t, w, 1)
		sinkWrite(t, w, sinkValues("b", 0, 5))
		sinkCloseWriter(t, w)

		s2 := newSink(t)
		sinkRecover(t, s2, 0, nil)
		sinkCheckCommitted(t, committed, nil, "after Recover(0) with checkpoint 1 pending")
		w2 := sinkOpenWriter(t, s2, 0, 1)
		a := sinkValues("a", 0, 5)
		sinkWrite(t, w2, a)
		sinkCommit(t, s2, 1, sinkPreCommit(t, w2, 1))
		sinkCheckCommitted(t, committed, a, "after the replay of checkpoint 1")
		sinkCloseWriter(t, w2)
	})

	t.Run("several writers", func(t *testing.T) {
		const parallelism = 3
		s := newSink(t)
		sinkRecover(t, s, 0, nil)
		ws := make([]runtime.SinkWriter, parallelism)
		for i := range ws {
			ws[i] = sinkOpenWriter(t, s, i, parallelism)
		}
		var want []string
		for round := range 3 {
			for i, w := range ws {
				v := sinkValues(fmt.Sprintf("w%d", i), round*4, 4)
				sinkWrite(t, w, v)
				want = append(want, v...)
			}
		}
		var cs [][]byte
		for _, w := range ws {
			cs = append(cs, sinkPreCommit(t, w, 1)...)
		}
		sinkCheckCommitted(t, committed, nil, "after PreCommit(1) of every writer, before Commit")
		sinkCommit(t, s, 1, cs)
		sinkCheckCommitted(t, committed, want, "after Commit(1) of every writer")

		// Checkpoint 2: only writer 1 writes.
		v := sinkValues("w1", 100, 3)
		sinkWrite(t, ws[1], v)
		want = append(want, v...)
		cs = nil
		for _, w := range ws {
			cs = append(cs, sinkPreCommit(t, w, 2)...)
		}
		sinkCommit(t, s, 2, cs)
		sinkCheckCommitted(t, committed, want, "after Commit(2) with one writer that wrote")
		for _, w := range ws {
			sinkCloseWriter(t, w)
		}
	})

	t.Run("empty transaction", func(t *testing.T) {
		s := newSink(t)
		sinkRecover(t, s, 0, nil)
		w := sinkOpenWriter(t, s, 0, 1)
		sinkCommit(t, s, 1, sinkPreCommit(t, w, 1))
		sinkCheckCommitted(t, committed, nil, "after an empty checkpoint 1")
		var empty abi.Writer
		empty.Reset()
		if err := w.Write(ctx, empty.Bytes()); err != nil {
			t.Fatalf("Write of an empty batch: %v", err)
		}
		sinkCommit(t, s, 2, sinkPreCommit(t, w, 2))
		sinkCheckCommitted(t, committed, nil, "after checkpoint 2 with an empty batch")
		sinkCommit(t, s, 3, nil)
		a := sinkValues("a", 0, 3)
		sinkWrite(t, w, a)
		sinkCommit(t, s, 4, sinkPreCommit(t, w, 4))
		sinkCheckCommitted(t, committed, a, "after empty checkpoints then checkpoint 4")
		sinkCloseWriter(t, w)
	})

	t.Run("large transaction", func(t *testing.T) {
		const records, perBatch = 5000, 500
		s := newSink(t)
		sinkRecover(t, s, 0, nil)
		w := sinkOpenWriter(t, s, 0, 1)
		all := sinkValues("big", 0, records)
		for i := 0; i < records; i += perBatch {
			sinkWrite(t, w, all[i:i+perBatch])
		}
		sinkCommit(t, s, 1, sinkPreCommit(t, w, 1))
		sinkCheckCommitted(t, committed, all, "after committing a large transaction")
		sinkCloseWriter(t, w)
	})

	t.Run("recover rolls back later checkpoints", func(t *testing.T) {
		if !opts.RollsBack {
			t.Skip("SinkOptions.RollsBack is false: the sink does not remove committed output")
		}
		s := newSink(t)
		sinkRecover(t, s, 0, nil)
		w := sinkOpenWriter(t, s, 0, 1)
		a, b, c := sinkValues("a", 0, 4), sinkValues("b", 0, 4), sinkValues("c", 0, 4)
		sinkWrite(t, w, a)
		c1 := sinkPreCommit(t, w, 1)
		sinkCommit(t, s, 1, c1)
		sinkWrite(t, w, b)
		sinkCommit(t, s, 2, sinkPreCommit(t, w, 2))
		sinkWrite(t, w, c)
		sinkCommit(t, s, 3, sinkPreCommit(t, w, 3))
		sinkCloseWriter(t, w)
		sinkCheckCommitted(t, committed, sinkConcat(a, b, c), "after checkpoints 1, 2 and 3")

		// Checkpoints 2 and 3 turn out unusable; the job falls back to 1.
		s2 := newSink(t)
		sinkRecover(t, s2, 1, c1)
		sinkCheckCommitted(t, committed, a, "after Recover(1) from checkpoint 3")
		w2 := sinkOpenWriter(t, s2, 0, 1)
		sinkWrite(t, w2, b)
		sinkCommit(t, s2, 2, sinkPreCommit(t, w2, 2))
		sinkCloseWriter(t, w2)
		sinkCheckCommitted(t, committed, sinkConcat(a, b), "after the replay of checkpoint 2")

		sinkRecover(t, newSink(t), 0, nil)
		sinkCheckCommitted(t, committed, nil, "after Recover(0)")
	})
}

// sinkValues returns n distinct record values "<tag>-<i>" for i from first.
func sinkValues(tag string, first, n int) []string {
	v := make([]string, n)
	for i := range v {
		v[i] = fmt.Sprintf("%s-%06d", tag, first+i)
	}
	return v
}

func sinkConcat(vs ...[]string) []string { return slices.Concat(vs...) }

func sinkRecover(t *testing.T, s runtime.Sink, ckpt int64, committables [][]byte) {
	t.Helper()
	if err := s.Recover(context.Background(), ckpt, committables); err != nil {
		t.Fatalf("Recover(%d) with %d committables: %v", ckpt, len(committables), err)
	}
}

func sinkOpenWriter(t *testing.T, s runtime.Sink, subtask, parallelism int) runtime.SinkWriter {
	t.Helper()
	w, err := s.OpenWriter(context.Background(), runtime.SinkInfo{
		Job: "conformance", Name: "sink", Subtask: subtask, Parallelism: parallelism,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("OpenWriter(subtask %d of %d): %v", subtask, parallelism, err)
	}
	return w
}

// sinkWrite writes one batch with a record per value: key "k<i>", timestamp
// 1.7e12 + i.
func sinkWrite(t *testing.T, w runtime.SinkWriter, vals []string) {
	t.Helper()
	var b abi.Writer
	b.Reset()
	for i, v := range vals {
		b.Append(abi.Entry{Key: fmt.Appendf(nil, "k%d", i), Value: []byte(v), Timestamp: 1_700_000_000_000 + int64(i)})
	}
	if err := w.Write(context.Background(), b.Bytes()); err != nil {
		t.Fatalf("Write of %d records: %v", len(vals), err)
	}
}

// sinkPreCommit returns the committable as a list: empty for a nil committable, as
// the runtime leaves those out.
func sinkPreCommit(t *testing.T, w runtime.SinkWriter, ckpt int64) [][]byte {
	t.Helper()
	c, err := w.PreCommit(context.Background(), ckpt)
	if err != nil {
		t.Fatalf("PreCommit(%d): %v", ckpt, err)
	}
	if c == nil {
		return nil
	}
	return [][]byte{c}
}

func sinkCommit(t *testing.T, s runtime.Sink, ckpt int64, committables [][]byte) {
	t.Helper()
	if err := s.Commit(context.Background(), ckpt, committables); err != nil {
		t.Fatalf("Commit(%d) with %d committables: %v", ckpt, len(committables), err)
	}
}

func sinkCloseWriter(t *testing.T, w runtime.SinkWriter) {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// sinkCheckCommitted fails t unless the committed values are want as a multiset.
func sinkCheckCommitted(t *testing.T, committed func(t *testing.T) []string, want []string, when string) {
	t.Helper()
	got := slices.Clone(committed(t))
	want = slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	if slices.Equal(got, want) {
		return
	}
	missing, extra := sinkMultisetDiff(want, got), sinkMultisetDiff(got, want)
	t.Errorf("%s: committed %d records, want %d; missing %s; extra (duplicate or not committed) %s",
		when, len(got), len(want), sinkSample(missing), sinkSample(extra))
}

// sinkMultisetDiff returns the elements of a not matched in b; both are sorted.
func sinkMultisetDiff(a, b []string) []string {
	var d []string
	i, j := 0, 0
	for i < len(a) {
		switch {
		case j >= len(b) || a[i] < b[j]:
			d = append(d, a[i])
			i++
		case a[i] > b[j]:
			j++
		default:
			i++
			j++
		}
	}
	return d
}

// sinkSample renders up to 5 elements of s and how many there are.
func sinkSample(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	const show = 5
	out := fmt.Sprintf("%d: %q", len(s), s[:min(show, len(s))])
	if len(s) > show {
		out = strings.TrimSuffix(out, "]") + " ...]"
	}
	return out
}

// StartSink is a sink's first run for a connector's own tests: Recover from
// no checkpoint, then the writer of subtask 0 of 1, closed at the end of
// the test.
func StartSink(t *testing.T, s runtime.Sink) runtime.SinkWriter {
	t.Helper()
	sinkRecover(t, s, 0, nil)
	w := sinkOpenWriter(t, s, 0, 1)
	t.Cleanup(func() { w.Close() })
	return w
}

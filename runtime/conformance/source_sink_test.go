package conformance

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// The suites must pass a correct implementation and fail broken ones. The
// broken runs happen in a child process (this test binary, selected by
// brokenSuiteEnv) because a failing suite fails the test that runs it.

const brokenSuiteEnv = "WEIR_CONFORMANCE_BUG"

// runBrokenSuite runs test in a child process with brokenSuiteEnv=bug and checks that it
// fails with output containing want.
func runBrokenSuite(t *testing.T, test, bug, want string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), brokenSuiteEnv+"="+bug)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the suite passed an implementation with bug %q:\n%s", bug, out)
	}
	if !strings.Contains(string(out), want) {
		t.Errorf("the suite failed on bug %q but its output does not contain %q:\n%s", bug, want, out)
	}
}

// toySource is a bounded source over splits "a" (no records), "b" (1) and "c"
// (25), with an optional bug.
type toySource struct {
	bug   string
	reads *int // for the nondeterministic bug
}

var toySplits = map[string]int{"a": 0, "b": 1, "c": 25}

func (s *toySource) Splits(ctx context.Context) ([]string, error) {
	ids := []string{"a", "b", "c"}
	if s.bug == "unstable-splits" {
		*s.reads++
		if *s.reads%2 == 0 {
			slices.Reverse(ids)
		}
	}
	return ids, nil
}

func (s *toySource) Open(ctx context.Context, split string, pos []byte, env runtime.SourceEnv) (runtime.SplitReader, error) {
	n, ok := toySplits[split]
	if !ok {
		return nil, fmt.Errorf("no split %q", split)
	}
	r := &toyReader{src: s, split: split, n: n}
	if len(pos) == 8 {
		r.next = int(binary.BigEndian.Uint64(pos))
		if s.bug == "lossy-resume" && r.next > 0 {
			r.next++
		}
	}
	return r, nil
}

type toyReader struct {
	src         *toySource
	split       string
	n, next     int
	pos         [8]byte
	eofReturned bool
}

func (r *toyReader) Read(ctx context.Context, w *abi.Writer, maxRecords int) (int, error) {
	bug := r.src.bug
	if r.next >= r.n {
		if bug == "no-eof" {
			return 0, nil
		}
		return 0, io.EOF
	}
	limit := maxRecords
	if bug == "ignores-max" {
		limit++
	}
	n := 0
	for ; n < limit && r.next < r.n; n++ {
		v := fmt.Sprintf("%s-%d", r.split, r.next)
		if bug == "nondeterministic" {
			*r.src.reads++
			v += fmt.Sprint(*r.src.reads)
		}
		w.Append(abi.Entry{Key: []byte("k"), Value: []byte(v), Timestamp: int64(r.next)})
		r.next++
	}
	binary.BigEndian.PutUint64(r.pos[:], uint64(r.next))
	if bug == "miscount" {
		return n + 1, nil
	}
	if r.next >= r.n {
		return n, io.EOF
	}
	return n, nil
}

func (r *toyReader) Position() []byte {
	binary.BigEndian.PutUint64(r.pos[:], uint64(r.next))
	if r.src.bug == "alias" {
		return r.pos[:]
	}
	return slices.Clone(r.pos[:])
}

func (r *toyReader) Close() error { return nil }

func newToySource(bug string) func(t *testing.T) runtime.Source {
	reads := new(int)
	return func(t *testing.T) runtime.Source { return &toySource{bug: bug, reads: reads} }
}

func TestSourceSuitePassesMemSource(t *testing.T) {
	TestSource(t, newToySource(""))
}

func TestBrokenSource(t *testing.T) {
	bug := os.Getenv(brokenSuiteEnv)
	if bug == "" {
		t.Skip("run by TestSourceSuiteCatchesBugs")
	}
	TestSource(t, newToySource(bug))
}

func TestSourceSuiteCatchesBugs(t *testing.T) {
	if os.Getenv(brokenSuiteEnv) != "" {
		t.Skip("a child process")
	}
	tests := []struct{ bug, want string }{
		{"unstable-splits", "Splits"},
		{"lossy-resume", `split "c" resumed after`},
		{"alias", `resumed after`},
		{"ignores-max", "with maxRecords"},
		{"miscount", "but appended"},
		{"nondeterministic", "second full read"},
		{"no-eof", "no record and no io.EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.bug, func(t *testing.T) { runBrokenSuite(t, "TestBrokenSource", tt.bug, tt.want) })
	}
}

// toyStore is the "external system" of toySink: committed records by
// checkpoint and pre-committed transactions.
type toyStore struct {
	mu        sync.Mutex
	committed []toyRecord
	pending   map[string]toyTxn // pre-committed, not committed
	done      map[string]bool   // committed transaction ids
	seq       int
}

type toyRecord struct {
	value string
	ckpt  int64
}

type toyTxn struct {
	values []string
	ckpt   int64
}

// toySink is a transactional sink over a toyStore, with an optional bug.
type toySink struct {
	bug   string
	store *toyStore
}

func (s *toySink) OpenWriter(ctx context.Context, info runtime.SinkInfo) (runtime.SinkWriter, error) {
	return &toyWriter{sink: s}, nil
}

func (s *toySink) Commit(ctx context.Context, ckpt int64, committables [][]byte) error {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	ids := make([]string, 0, len(committables))
	for _, c := range committables {
		ids = append(ids, string(c))
	}
	if s.bug == "commit-all-pending" {
		ids = ids[:0]
		for id := range st.pending {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		txn, ok := st.pending[id]
		switch {
		case ok:
			for _, v := range txn.values {
				st.committed = append(st.committed, toyRecord{v, txn.ckpt})
			}
			if s.bug != "commit-twice" {
				delete(st.pending, id)
				st.done[id] = true
			}
		case !st.done[id]:
			return fmt.Errorf("transaction %s lost", id)
		}
	}
	return nil
}

func (s *toySink) Recover(ctx context.Context, ckpt int64, committables [][]byte) error {
	if s.bug != "recover-ignores-committables" {
		if err := s.Commit(ctx, ckpt, committables); err != nil {
			return err
		}
	}
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	if s.bug != "commit-all-pending" {
		clear(st.pending)
	}
	if s.bug != "no-rollback" && s.bug != "commit-all-pending" {
		st.committed = slices.DeleteFunc(st.committed, func(r toyRecord) bool { return r.ckpt > ckpt })
	}
	return nil
}

type toyWriter struct {
	sink *toySink
	open []string
}

func (w *toyWriter) Write(ctx context.Context, batch []byte) error {
	for r := abi.NewReader(batch); r.Next(); {
		w.open = append(w.open, string(r.Entry().Value))
	}
	return nil
}

func (w *toyWriter) PreCommit(ctx context.Context, ckpt int64) ([]byte, error) {
	if len(w.open) == 0 {
		return nil, nil
	}
	st := w.sink.store
	st.mu.Lock()
	defer st.mu.Unlock()
	if w.sink.bug == "visible-on-precommit" {
		for _, v := range w.open {
			st.committed = append(st.committed, toyRecord{v, ckpt})
		}
	}
	st.seq++
	id := fmt.Sprintf("txn-%d", st.seq)
	st.pending[id] = toyTxn{values: w.open, ckpt: ckpt}
	w.open = nil
	return []byte(id), nil
}

func (w *toyWriter) Close() error { return nil }

// toySinks returns newSink and committed functions whose stores are per test.
func toySinks(bug string) (func(t *testing.T) runtime.Sink, func(t *testing.T) []string) {
	var mu sync.Mutex
	stores := map[string]*toyStore{}
	storeOf := func(t *testing.T) *toyStore {
		mu.Lock()
		defer mu.Unlock()
		st, ok := stores[t.Name()]
		if !ok {
			st = &toyStore{pending: map[string]toyTxn{}, done: map[string]bool{}}
			stores[t.Name()] = st
		}
		return st
	}
	newSink := func(t *testing.T) runtime.Sink { return &toySink{bug: bug, store: storeOf(t)} }
	committed := func(t *testing.T) []string {
		st := storeOf(t)
		st.mu.Lock()
		defer st.mu.Unlock()
		var vs []string
		for _, r := range st.committed {
			vs = append(vs, r.value)
		}
		return vs
	}
	return newSink, committed
}

func TestSinkSuitePassesMemSink(t *testing.T) {
	newSink, committed := toySinks("")
	TestSink(t, newSink, committed, SinkOptions{RollsBack: true})
}

func TestBrokenSink(t *testing.T) {
	bug := os.Getenv(brokenSuiteEnv)
	if bug == "" {
		t.Skip("run by TestSinkSuiteCatchesBugs")
	}
	newSink, committed := toySinks(bug)
	// commit-all-pending is a sink that cannot roll back (else the rollback
	// would hide the stale transactions it commits).
	TestSink(t, newSink, committed, SinkOptions{RollsBack: bug != "commit-all-pending"})
}

func TestSinkSuiteCatchesBugs(t *testing.T) {
	if os.Getenv(brokenSuiteEnv) != "" {
		t.Skip("a child process")
	}
	tests := []struct{ bug, want string }{
		{"visible-on-precommit", "after PreCommit(1) without Commit"},
		{"commit-twice", "after Commit(1) twice"},
		{"recover-ignores-committables", "after Recover(1)"},
		{"commit-all-pending", "after Recover(1) with checkpoint 2 pending"},
		{"no-rollback", "after Recover(1) from checkpoint 3"},
	}
	for _, tt := range tests {
		t.Run(tt.bug, func(t *testing.T) { runBrokenSuite(t, "TestBrokenSink", tt.bug, tt.want) })
	}
}

package conformancetest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
)

// entrySink is a transactional sink (runtime.Sink) that keeps the encoded
// entries it commits, byte for byte: the committed output the suite compares
// across languages. Transactions follow memory.Sink: one per writer between
// checkpoint barriers, committed by the checkpoint's committables, aborted
// (and later checkpoints' output removed) on recovery. It is safe for
// concurrent use.
type entrySink struct {
	mu        sync.Mutex
	nextTxn   int
	pending   map[int][][]byte // open and pre-committed transactions
	committed map[int]committedEntries
}

type committedEntries struct {
	checkpoint int64
	entries    [][]byte
}

func newEntrySink() *entrySink {
	return &entrySink{pending: map[int][][]byte{}, committed: map[int]committedEntries{}}
}

func (s *entrySink) begin() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextTxn++
	s.pending[s.nextTxn] = nil
	return s.nextTxn
}

func (s *entrySink) OpenWriter(context.Context, runtime.SinkInfo) (runtime.SinkWriter, error) {
	return &entryWriter{s: s, txn: s.begin()}, nil
}

func (s *entrySink) Commit(_ context.Context, checkpointID int64, committables [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range committables {
		if c == nil {
			continue
		}
		txn, err := strconv.Atoi(string(c))
		if err != nil {
			return fmt.Errorf("entry sink: bad committable %q: %w", c, err)
		}
		if _, done := s.committed[txn]; done {
			continue
		}
		entries, ok := s.pending[txn]
		if !ok {
			return fmt.Errorf("entry sink: transaction %d of checkpoint %d is neither pending nor committed: output lost", txn, checkpointID)
		}
		s.committed[txn] = committedEntries{checkpoint: checkpointID, entries: entries}
		delete(s.pending, txn)
	}
	return nil
}

func (s *entrySink) Recover(ctx context.Context, checkpointID int64, committables [][]byte) error {
	if err := s.Commit(ctx, checkpointID, committables); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.pending)
	maps.DeleteFunc(s.committed, func(_ int, c committedEntries) bool { return c.checkpoint > checkpointID })
	return nil
}

// Committed returns every committed entry, sorted bytewise (subtasks run
// concurrently, so only the set of entries is deterministic).
func (s *entrySink) Committed() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, c := range s.committed {
		out = append(out, c.entries...)
	}
	slices.SortFunc(out, bytes.Compare)
	return out
}

type entryWriter struct {
	s   *entrySink
	txn int
}

func (w *entryWriter) Write(_ context.Context, batch []byte) error {
	var entries [][]byte
	r := abi.NewReader(batch)
	for r.Next() {
		entries = append(entries, bytes.Clone(r.Raw()))
	}
	if r.Err() != nil {
		return r.Err()
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.pending[w.txn] = append(w.s.pending[w.txn], entries...)
	return nil
}

func (w *entryWriter) PreCommit(context.Context, int64) ([]byte, error) {
	w.s.mu.Lock()
	empty := len(w.s.pending[w.txn]) == 0
	w.s.mu.Unlock()
	if empty {
		return nil, nil
	}
	c := []byte(strconv.Itoa(w.txn))
	w.txn = w.s.begin()
	return c, nil
}

func (w *entryWriter) Close() error { return nil }

// An engineJob runs one reference operator in a job: a memory source with
// one split, the operator (parallelism 2; keyBy or rebalance) and one
// entrySink per output port.
type engineJob struct {
	operator string
	keyed    bool
	ports    []int
	input    []memory.Record
	// check looks at the reference language's committed output, per port,
	// decoded: what the comparison across languages cannot see (that there is
	// output, and the right output).
	check func(t *testing.T, in []memory.Record, out map[int][]abi.Entry)
}

// NB: the inputs have more than runtime.DefaultBatchRecords records, so the
// watermark (which a source advances after each batch it reads) moves while
// they are processed, timers fire between batches and tumblecount sees late
// records. With one split, which records arrive behind which watermark is
// deterministic, so every language must commit the same entries.
var engineJobs = []engineJob{
	{
		operator: "upper", ports: []int{0},
		input: genRecords(1500, func(i int) memory.Record {
			return memory.Record{Key: fmt.Sprintf("k%d", i%17), Value: fmt.Sprintf("event %d: Hello, Wörld! ~{z}", i), Timestamp: int64(i * 3)}
		}),
		check: func(t *testing.T, in []memory.Record, out map[int][]abi.Entry) {
			var want, got []string
			for _, r := range in {
				want = append(want, r.Key+"="+asciiUpper(r.Value))
			}
			for _, e := range out[0] {
				got = append(got, string(e.Key)+"="+string(e.Value))
			}
			wantSameLines(t, got, want)
		},
	},
	{
		operator: "runningsum", keyed: true, ports: []int{0},
		input: genRecords(2500, func(i int) memory.Record {
			return memory.Record{Key: fmt.Sprintf("acct-%d", i%37), Value: strconv.Itoa(i*7919%2001 - 1000), Timestamp: int64(i)}
		}),
		check: func(t *testing.T, in []memory.Record, out map[int][]abi.Entry) {
			sums := map[string]int64{}
			var want, got []string
			for _, r := range in {
				n, _ := strconv.ParseInt(r.Value, 10, 64)
				sums[r.Key] += n
				want = append(want, fmt.Sprintf("%s=%d", r.Key, sums[r.Key]))
			}
			for _, e := range out[0] {
				got = append(got, string(e.Key)+"="+string(e.Value))
			}
			wantSameLines(t, got, want)
		},
	},
	{
		operator: "tumblecount", keyed: true, ports: []int{0, 1},
		input: genRecords(3000, func(i int) memory.Record {
			ts := int64(i * 50)
			if i > 1100 && i%97 == 0 {
				ts -= 40_000 // behind the watermark of the batches before: late
			}
			return memory.Record{Key: fmt.Sprintf("u%d", i%7), Value: "v" + strconv.Itoa(i), Timestamp: ts}
		}),
		check: func(t *testing.T, in []memory.Record, out map[int][]abi.Entry) {
			counted := 0
			for _, e := range out[0] {
				n, err := strconv.Atoi(string(e.Value))
				if err != nil {
					t.Fatalf("window count %q: %v", e.Value, err)
				}
				counted += n
			}
			if len(out[1]) == 0 || counted+len(out[1]) != len(in) {
				t.Errorf("%d records counted in windows and %d late, want some late and %d in all", counted, len(out[1]), len(in))
			}
		},
	},
	{
		operator: "timers", keyed: true, ports: []int{0},
		input: genRecords(2500, func(i int) memory.Record {
			ts := int64(i * 20)
			v := "event:" + strconv.FormatInt(ts+500, 10)
			if i%5 == 0 && i >= 11 {
				// The timer that record i-11 (the same key) set.
				v = "delete-event:" + strconv.FormatInt(int64(i-11)*20+500, 10)
			}
			return memory.Record{Key: fmt.Sprintf("t%d", i%11), Value: v, Timestamp: ts}
		}),
		check: func(t *testing.T, in []memory.Record, out map[int][]abi.Entry) {
			if len(out[0]) == 0 || len(out[0]) >= len(in) {
				t.Errorf("%d timers fired for %d records, some of them deletes: want some, and fewer than records", len(out[0]), len(in))
			}
			for _, e := range out[0] {
				if !strings.HasPrefix(string(e.Value), "fired event ") || e.TrackingID != 0 {
					t.Fatalf("fired timer %q with tracking id %d, want fired event ... and 0", e.Value, e.TrackingID)
				}
			}
		},
	},
	{
		operator: "sideoutput", ports: []int{0, 1, 2, 7, 255},
		input: genRecords(1200, func(i int) memory.Record {
			port := []int{0, 1, 2, 7, 255}[i%5]
			return memory.Record{Key: fmt.Sprintf("s%d", i%13), Value: fmt.Sprintf("%d:payload %d", port, i), Timestamp: int64(i)}
		}),
		check: func(t *testing.T, in []memory.Record, out map[int][]abi.Entry) {
			want := map[int][]string{}
			for _, r := range in {
				p, payload, _ := strings.Cut(r.Value, ":")
				port, _ := strconv.Atoi(p)
				want[port] = append(want[port], r.Key+"="+payload)
			}
			for port, entries := range out {
				var got []string
				for _, e := range entries {
					got = append(got, string(e.Key)+"="+string(e.Value))
				}
				wantSameLines(t, got, want[port])
			}
		},
	},
}

func genRecords(n int, f func(i int) memory.Record) []memory.Record {
	out := make([]memory.Record, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// wantSameLines checks that got and want hold the same lines, in any order.
func wantSameLines(t *testing.T, got, want []string) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("committed %d records, want %d:\ngot  %.400q\nwant %.400q", len(got), len(want), got, want)
	}
}

// TestEngineOutputsIdentical runs each reference operator in a job through
// the engine (checkpoints every 20 ms, keyed state, watermarks, timers and
// side outputs on real edges), once per language, and checks that every
// language commits exactly the entries the reference language commits, byte
// for byte, on every port.
func TestEngineOutputsIdentical(t *testing.T) {
	engine := newEngine(t, host.Config{Logger: quietLogger})
	for _, j := range engineJobs {
		t.Run(j.operator, func(t *testing.T) {
			committed := map[string]map[int][][]byte{}
			for _, lang := range languages {
				t.Run(lang, func(t *testing.T) {
					committed[lang] = runEngineJob(t, engine, lang, j)
				})
			}
			ref, ok := committed[languages[0]]
			if !ok {
				t.Fatalf("the reference language %s did not run", languages[0])
			}
			decoded := map[int][]abi.Entry{}
			for port, entries := range ref {
				for _, e := range entries {
					d, _ := abi.EntryAt(append(batchHeader(1), e...), 0)
					decoded[port] = append(decoded[port], d)
				}
			}
			j.check(t, j.input, decoded)
			for _, lang := range languages[1:] {
				got, ok := committed[lang]
				if !ok {
					continue // skipped, or failed above
				}
				for _, port := range j.ports {
					if !slices.EqualFunc(got[port], ref[port], bytes.Equal) {
						t.Errorf("%s committed %d entries on port %d, %s %d, and they differ:\n%s",
							lang, len(got[port]), port, languages[0], len(ref[port]), firstDifference(got[port], ref[port]))
					}
				}
			}
		})
	}
}

// firstDifference describes where two sorted lists of entries part.
func firstDifference(got, want [][]byte) string {
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			return "missing:\n" + formatEntries(want[i:min(i+3, len(want))])
		case i >= len(want):
			return "extra:\n" + formatEntries(got[i:min(i+3, len(got))])
		case !bytes.Equal(got[i], want[i]):
			return "got\n" + formatEntries(got[i:i+1]) + "want\n" + formatEntries(want[i:i+1])
		}
	}
	return "(no difference)"
}

// runEngineJob runs j with the lang build of its operator and returns the
// committed entries per port.
func runEngineJob(t *testing.T, engine *host.Engine, lang string, j engineJob) map[int][][]byte {
	mod := loadModule(t, engine, lang+"-"+j.operator, build(t, lang, j.operator), host.Limits{})
	partition := runtime.Rebalance
	if j.keyed {
		partition = runtime.KeyBy
	}
	job := &runtime.Job{
		Name:    "conformance-" + j.operator,
		Sources: []*runtime.SourceNode{{Name: "in", Parallelism: 1, Source: memory.NewSource(j.input)}},
		Operators: []*runtime.OperatorNode{
			{Name: j.operator, Parallelism: 2, Inputs: []runtime.Input{{From: "in", Partition: partition}}, Factory: mod},
		},
	}
	sinks := map[int]*entrySink{}
	for _, port := range j.ports {
		sinks[port] = newEntrySink()
		job.Sinks = append(job.Sinks, &runtime.SinkNode{
			Name: fmt.Sprintf("out%d", port), Parallelism: 1, Sink: sinks[port],
			Inputs: []runtime.Input{{From: j.operator, Port: port, Partition: runtime.Rebalance}},
		})
	}
	examplerun.Run(t, job)
	out := map[int][][]byte{}
	for port, s := range sinks {
		out[port] = s.Committed()
	}
	return out
}

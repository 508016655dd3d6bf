package runtime_test

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/plugins/localfs"
	"github.com/weirstream/weir/plugins/pebble"
	"github.com/weirstream/weir/runtime"
)

var dedupIDs = flag.Int("dedup.ids", 10_000_000, "distinct message ids of BenchmarkDedup (a multiple of 20)")

// dedupGen is a source of records keyed by message id, generated as read
// (10 M records held as memory.Records would be gigabytes): each of its
// splits has perSplit distinct ids, and after every 10 new ids one
// duplicate of an earlier id of the split, so 1 record in 11 is a duplicate.
type dedupGen struct {
	splits   int
	perSplit int // distinct ids per split, a multiple of 10
}

func (g *dedupGen) records() int { return g.perSplit + g.perSplit/10 }

func (g *dedupGen) Splits(context.Context) ([]string, error) {
	out := make([]string, g.splits)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out, nil
}

func (g *dedupGen) Open(_ context.Context, split string, position []byte, _ runtime.SourceEnv) (runtime.SplitReader, error) {
	s, err := strconv.Atoi(split)
	if err != nil || s < 0 || s >= g.splits {
		return nil, fmt.Errorf("dedupGen: unknown split %q", split)
	}
	r := &dedupGenReader{g: g, split: s}
	if position != nil {
		r.next = int(binary.BigEndian.Uint64(position))
	}
	return r, nil
}

type dedupGenReader struct {
	g     *dedupGen
	split int
	next  int
	key   []byte
}

// id returns the index, in its split, of record j's id: record 11b+r is new
// id 10b+r for r < 10, and for r = 10 a repeat of one of the ids before it.
func dedupGenID(j int) (idx int, dup bool) {
	blk, r := j/11, j%11
	if r < 10 {
		return blk*10 + r, false
	}
	return (blk * 7919) % (blk*10 + 10), true
}

func (r *dedupGenReader) Read(_ context.Context, w *abi.Writer, maxRecords int) (int, error) {
	n := 0
	for ; n < maxRecords && r.next < r.g.records(); n++ {
		idx, _ := dedupGenID(r.next)
		r.key = fmt.Appendf(r.key[:0], "msg-%d-%010d", r.split, idx)
		w.Append(abi.Entry{Key: r.key, Value: []byte("v"), Timestamp: int64(r.next)})
		r.next++
	}
	if r.next == r.g.records() {
		return n, io.EOF
	}
	return n, nil
}

func (r *dedupGenReader) Position() []byte { return binary.BigEndian.AppendUint64(nil, uint64(r.next)) }
func (r *dedupGenReader) Close() error     { return nil }

// countSink counts the records written to it.
type countSink struct{ n atomic.Int64 }

func (s *countSink) OpenWriter(context.Context, runtime.SinkInfo) (runtime.SinkWriter, error) {
	return countWriter{s}, nil
}
func (s *countSink) Commit(context.Context, int64, [][]byte) error  { return nil }
func (s *countSink) Recover(context.Context, int64, [][]byte) error { return nil }

type countWriter struct{ s *countSink }

func (w countWriter) Write(_ context.Context, batch []byte) error {
	r := abi.NewReader(batch)
	var n int64
	for r.Next() {
		n++
	}
	w.s.n.Add(n)
	return r.Err()
}
func (countWriter) PreCommit(context.Context, int64) ([]byte, error) { return nil, nil }
func (countWriter) Close() error                                     { return nil }

// BenchmarkDedup runs the dedup operator over 10 M distinct message ids
// (-dedup.ids) plus one duplicate per 10 of them (11 M records, 2 splits,
// dedup at parallelism 2, TTL 1h, checkpoints every 10 s) on the Pebble
// state backend with a local snapshot store, and reports ids/s (distinct
// ids per second of the whole run, the duplicates' cost included),
// records/s, and the bytes of the last checkpoint's state in the store
// (every id and its expiry timer; the store retains one checkpoint). It
// checks that exactly the duplicates were dropped; nothing is timed against
// a bound (docs/BENCHMARKS.md, "Dedup throughput with 10 M ids").
//
//	go test -run '^$' -bench BenchmarkDedup -benchtime 1x ./runtime/
func BenchmarkDedup(b *testing.B) {
	ids := *dedupIDs
	if ids <= 0 || ids%20 != 0 {
		b.Fatalf("-dedup.ids %d is not a positive multiple of 20", ids)
	}
	gen := &dedupGen{splits: 2, perSplit: ids / 2}
	var stateBytes int64
	for b.Loop() {
		dir := b.TempDir()
		store, err := localfs.New(filepath.Join(dir, "store"))
		if err != nil {
			b.Fatal(err)
		}
		sink := &countSink{}
		job := &runtime.Job{
			Name:       "dedup",
			Checkpoint: runtime.CheckpointConfig{Interval: 10 * time.Second, Retain: 1},
			Sources:    []*runtime.SourceNode{{Name: "in", Parallelism: 2, Source: gen}},
			Operators: []*runtime.OperatorNode{
				{Name: "dedup", Parallelism: 2, Inputs: []runtime.Input{{From: "in", Partition: runtime.KeyBy}}, Factory: runtime.NewDedup(runtime.DedupConfig{TTL: time.Hour})},
			},
			Sinks: []*runtime.SinkNode{{Name: "out", Parallelism: 1, Inputs: []runtime.Input{{From: "dedup", Partition: runtime.Rebalance}}, Sink: sink}},
		}
		res, err := runtime.Run(context.Background(), job, runtime.Config{Store: store, State: pebble.Factory{}, WorkDir: filepath.Join(dir, "work"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil || !res.Finished {
			b.Fatalf("run: %+v, %v", res, err)
		}
		if got := sink.n.Load(); got != int64(ids) {
			b.Fatalf("%d records out of dedup, want %d: the %d distinct ids once each", got, ids, ids)
		}
		b.StopTimer()
		stateBytes, err = dirBytes(store.Dir())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(ids)/sec, "ids/s")
	b.ReportMetric(float64(gen.splits*gen.records())/sec, "records/s")
	b.ReportMetric(float64(stateBytes), "state-bytes")
	b.ReportMetric(float64(stateBytes)/float64(ids), "state-bytes/id")
}

// dirBytes sums the sizes of the files under dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	return n, err
}

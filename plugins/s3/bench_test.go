package s3

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/plugins/pebble"
	"github.com/weirstream/weir/plugins/s3/miniotest"
	"github.com/weirstream/weir/runtime"
)

// countingStore counts the bytes and objects Put sends.
type countingStore struct {
	runtime.SnapshotStore
	bytes, objects atomic.Int64
}

func (s *countingStore) Put(ctx context.Context, name string, r io.Reader) error {
	cr := &countReader{r: r}
	err := s.SnapshotStore.Put(ctx, name, cr)
	s.bytes.Add(cr.n)
	s.objects.Add(1)
	return err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// BenchmarkCheckpoint1MKeysOnMinIO fills a Pebble state with 1 M keys of
// 100-byte values, takes a first (full) checkpoint to MinIO, changes 1 % of
// the keys and takes a second (incremental) one. It reports the time and the
// bytes uploaded of each, and the size of the second checkpoint's state,
// which a full upload would have sent.
func BenchmarkCheckpoint1MKeysOnMinIO(b *testing.B) {
	const (
		keys       = 1_000_000
		changed    = keys / 100
		valueBytes = 100
		keyGroups  = 128
	)
	srv := miniotest.Start(b)
	base, err := NewStore(testConn(srv), srv.Bucket, "bench-state")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		store := &countingStore{SnapshotStore: base.Sub(fmt.Sprint(i))}
		be, err := pebble.Factory{}.Open(ctx, runtime.BackendConfig{
			Dir:        filepath.Join(b.TempDir(), "state"),
			KeyGroups:  runtime.KeyGroupRange{First: 0, Last: keyGroups - 1},
			Store:      store,
			Prefix:     "op/",
			CacheBytes: 64 << 20,
		})
		if err != nil {
			b.Fatal(err)
		}
		// NB: random hex values, so that Pebble's compression does not make the
		// state unrealistically small.
		rng := rand.New(rand.NewPCG(1, 2))
		value := func() []byte {
			v := make([]byte, valueBytes/2)
			for i := range v {
				v[i] = byte(rng.Uint32())
			}
			return []byte(hex.EncodeToString(v))
		}
		key := func(k int) []byte { return fmt.Appendf(runtime.KeyGroupPrefix(k%keyGroups), "user-%07d", k) }
		for k := 0; k < keys; k++ {
			if err := be.Set(key(k), value()); err != nil {
				b.Fatal(err)
			}
		}
		checkpoint := func(id int64) (time.Duration, int64, runtime.StateHandle) {
			before := store.bytes.Load()
			start := time.Now()
			up, err := be.Checkpoint(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			h, err := up(ctx)
			if err != nil {
				b.Fatal(err)
			}
			return time.Since(start), store.bytes.Load() - before, h
		}
		fullTime, fullBytes, _ := checkpoint(1)
		for k := 0; k < changed; k++ {
			if err := be.Set(key(k*100), value()); err != nil {
				b.Fatal(err)
			}
		}
		incTime, incBytes, h2 := checkpoint(2)
		var size2 int64
		for _, f := range h2.Files {
			size2 += f.Size
		}
		be.Close()
		b.ReportMetric(float64(fullTime.Milliseconds()), "full-ms")
		b.ReportMetric(float64(fullBytes)/(1<<20), "full-MiB")
		b.ReportMetric(float64(incTime.Milliseconds()), "incr-ms")
		b.ReportMetric(float64(incBytes)/(1<<20), "incr-MiB")
		b.ReportMetric(float64(size2)/(1<<20), "incr-state-MiB")
	}
}

// BenchmarkSinkVsPutObject writes 64 MiB of 100-byte keyvalue lines through
// the sink, as 8 checkpoints of 8 MiB (Write, PreCommit, Commit), and the same
// bytes with a plain minio-go PutObject loop of 8 objects, and reports both
// rates in MiB/s and their ratio.
func BenchmarkSinkVsPutObject(b *testing.B) {
	const (
		checkpoints   = 8
		perCheckpoint = 8 << 20
		lineBytes     = 100
		batchRecords  = 1000
	)
	srv := miniotest.Start(b)
	ctx := context.Background()
	value := bytes.Repeat([]byte("v"), lineBytes-len("k0000000\t\n"))
	recordsPer := perCheckpoint / lineBytes
	for i := 0; i < b.N; i++ {
		s, err := newSink(SinkOptions{Endpoint: srv.Addr, Insecure: true, Bucket: srv.Bucket, Path: fmt.Sprintf("bench-sink/%d", i), Format: "keyvalue"}, testConn(srv))
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Recover(ctx, 0, nil); err != nil {
			b.Fatal(err)
		}
		w, _ := s.OpenWriter(ctx, runtime.SinkInfo{Subtask: 0, Parallelism: 1})
		// The batches of one checkpoint, built before the clock starts.
		var batches [][]byte
		for r := 0; r < recordsPer; r += batchRecords {
			var bw abi.Writer
			bw.Reset()
			for j := r; j < min(r+batchRecords, recordsPer); j++ {
				bw.Append(abi.Entry{Kind: abi.KindRecord, Key: fmt.Appendf(nil, "k%07d", j), Value: value, Timestamp: abi.NoTimestamp})
			}
			batches = append(batches, bw.Detach())
		}
		var total int64
		start := time.Now()
		for ck := int64(1); ck <= checkpoints; ck++ {
			for _, batch := range batches {
				if err := w.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			c, err := w.PreCommit(ctx, ck)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Commit(ctx, ck, [][]byte{c}); err != nil {
				b.Fatal(err)
			}
			total += int64(recordsPer * lineBytes)
		}
		sinkTime := time.Since(start)

		cli := srv.Client()
		var obj bytes.Buffer
		for j := 0; j < recordsPer; j++ {
			fmt.Fprintf(&obj, "k%07d\t%s\n", j, value)
		}
		start = time.Now()
		for ck := 0; ck < checkpoints; ck++ {
			if _, err := cli.PutObject(ctx, srv.Bucket, fmt.Sprintf("bench-put/%d/%d", i, ck), bytes.NewReader(obj.Bytes()), int64(obj.Len()), minio.PutObjectOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		putTime := time.Since(start)
		sinkRate := float64(total) / (1 << 20) / sinkTime.Seconds()
		putRate := float64(int64(obj.Len())*checkpoints) / (1 << 20) / putTime.Seconds()
		b.ReportMetric(sinkRate, "sink-MiB/s")
		b.ReportMetric(putRate, "putobject-MiB/s")
		b.ReportMetric(sinkRate/putRate, "ratio")
		b.ReportMetric(float64(total/lineBytes)/sinkTime.Seconds(), "sink-records/s")
	}
}

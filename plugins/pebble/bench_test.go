package pebble

import (
	"context"
	"encoding/binary"

	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	weir "github.com/weirstream/weir/runtime"
)

// countKey appends the state key a keyed count writes for the 8-byte record
// key k (the layout of runtime/keys.go: key group, name length, name "count",
// key length, key) to dst.
func countKey(dst []byte, k uint64) []byte {
	var rk [8]byte
	binary.BigEndian.PutUint64(rk[:], k)
	kg := int(k % 128)
	dst = append(dst, byte(kg>>8), byte(kg), 5)
	dst = append(dst, "count"...)
	dst = binary.BigEndian.AppendUint32(dst, 8)
	return append(dst, rk[:]...)
}

// hotKeys returns n count keys.
func hotKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = countKey(nil, uint64(i)*0x9E3779B97F4A7C15)
	}
	return keys
}

func BenchmarkGetHit(b *testing.B) {
	be := openTest(b, newLocalStore(b), 0)
	keys := hotKeys(1024)
	for _, k := range keys {
		if err := be.Set(k, []byte("12345678")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok, err := be.Get(keys[i&1023]); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkSetHit(b *testing.B) {
	be := openTest(b, newLocalStore(b), 0)
	keys := hotKeys(1024)
	v := []byte("12345678")
	for _, k := range keys {
		if err := be.Set(k, v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := be.Set(keys[i&1023], v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeyedCountHit is the state work of a keyed count whose keys are all
// cached: a Get and a Set per record.
func BenchmarkKeyedCountHit(b *testing.B) {
	be := openTest(b, newLocalStore(b), 0)
	keys := hotKeys(1024)
	var v [8]byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := keys[i&1023]
		old, ok, err := be.Get(k)
		if err != nil {
			b.Fatal(err)
		}
		var n uint64
		if ok {
			n = binary.BigEndian.Uint64(old)
		}
		binary.BigEndian.PutUint64(v[:], n+1)
		if err := be.Set(k, v[:]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSetNewKeys sets keys never seen before into a 1 MiB cache, so that
// almost every Set evicts (in rounds) and writes back to Pebble.
func BenchmarkSetNewKeys(b *testing.B) {
	be := openTest(b, newLocalStore(b), 1<<20)
	v := []byte("12345678")
	key := make([]byte, 0, 32)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		key = countKey(key[:0], uint64(i)*0x9E3779B97F4A7C15)
		if err := be.Set(key, v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckpointSmallDelta takes a checkpoint (and its upload to a local
// store) of 200k entries after 100 of them changed.
func BenchmarkCheckpointSmallDelta(b *testing.B) {
	store := &countingStore{SnapshotStore: newLocalStore(b)}
	be := openTest(b, store, 0)
	keys := hotKeys(200_000)
	for _, k := range keys {
		if err := be.Set(k, []byte("12345678")); err != nil {
			b.Fatal(err)
		}
	}
	checkpoint(b, be, 1)
	store.takePuts()
	b.ReportAllocs()
	b.ResetTimer()
	id := int64(2)
	for i := 0; b.Loop(); i++ {
		for j := range 100 {
			if err := be.Set(keys[(i*100+j)%len(keys)], []byte("changed!")); err != nil {
				b.Fatal(err)
			}
		}
		checkpoint(b, be, id)
		id++
	}
	b.ReportMetric(float64(len(store.takePuts()))/float64(b.N), "objects/op")
}

// BenchmarkKeyedCount10MKeys runs the state work of a keyed count over 10M
// distinct 8-byte keys (each seen once, in scrambled order) with the default
// 64 MiB cache, then checkpoints, and reports throughput and peak memory. Run
// it alone, once: go test -run=^$ -bench=KeyedCount10MKeys -benchtime=1x
func BenchmarkKeyedCount10MKeys(b *testing.B) {
	const records = 10_000_000
	for b.Loop() {
		dir := b.TempDir()
		store := newLocalStore(b)
		be, err := open(context.Background(), weir.BackendConfig{
			Dir:       dir + "/state",
			KeyGroups: weir.KeyGroupRange{First: 0, Last: 127},
			Store:     store,
			Prefix:    "job/count/",
		})
		if err != nil {
			b.Fatal(err)
		}
		peak := startPeakHeap()
		start := time.Now()
		key := make([]byte, 0, 32)
		var v [8]byte
		for i := range uint64(records) {
			key = countKey(key[:0], i*0x9E3779B97F4A7C15) // a bijection: all distinct
			old, ok, err := be.Get(key)
			if err != nil {
				b.Fatal(err)
			}
			var n uint64
			if ok {
				n = binary.BigEndian.Uint64(old)
			}
			binary.BigEndian.PutUint64(v[:], n+1)
			if err := be.Set(key, v[:]); err != nil {
				b.Fatal(err)
			}
		}
		elapsed := time.Since(start)
		cached, cachedBytes := len(be.cache.index), be.cache.used
		ckStart := time.Now()
		h := checkpoint(b, be, 1)
		ckElapsed := time.Since(ckStart)
		peakHeap := peak()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		var snapshotBytes int64
		for _, f := range h.Files {
			snapshotBytes += f.Size
		}
		b.ReportMetric(records/elapsed.Seconds(), "records/s")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-heap-MiB")
		b.ReportMetric(float64(cached), "cached-entries")
		b.ReportMetric(float64(cachedBytes)/(1<<20), "cache-counted-MiB")
		b.ReportMetric(ckElapsed.Seconds(), "checkpoint-s")
		b.ReportMetric(float64(snapshotBytes)/(1<<20), "snapshot-MiB")
		if err := be.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// startPeakHeap samples the heap until the returned function is called, which
// returns the largest heap seen (live and garbage objects).
func startPeakHeap() (stop func() uint64) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			peak = max(peak, samples[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// peakRSS returns the process's peak resident set size (VmHWM), or 0 where
// /proc is not available.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// BenchmarkKeyedCountNewKeys is the state work of a keyed count where every
// record has a new key: a Get that misses both the cache and Pebble, and a Set
// that inserts (and, once the 64 MiB cache is full, evicts).
func BenchmarkKeyedCountNewKeys(b *testing.B) {
	be := openTest(b, newLocalStore(b), 0)
	key := make([]byte, 0, 32)
	var v [8]byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		key = countKey(key[:0], uint64(i)*0x9E3779B97F4A7C15)
		if _, ok, err := be.Get(key); ok || err != nil {
			b.Fatal(ok, err)
		}
		binary.BigEndian.PutUint64(v[:], 1)
		if err := be.Set(key, v[:]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkCacheEntryBytes fills a cache with b.N keyed-count entries (20-byte
// keys, 8-byte values) and reports the heap they take per entry next to what
// the cache counts for them (entrySize), which is what bounds the cache.
func BenchmarkCacheEntryBytes(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newCache(1 << 40)
	key := make([]byte, 0, 32)
	for i := range b.N {
		key = countKey(key[:0], uint64(i)*0x9E3779B97F4A7C15)
		c.set(key, []byte("12345678"))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heap-B/entry")
	b.ReportMetric(float64(c.used)/float64(b.N), "counted-B/entry")
	runtime.KeepAlive(c)
}

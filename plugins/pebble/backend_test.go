package pebble

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/weirstream/weir/plugins/localfs"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/conformance"
)

func newLocalStore(t testing.TB) *localfs.Store {
	t.Helper()
	s, err := localfs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	conformance.TestStateBackend(t, Factory{}, func(t *testing.T) runtime.SnapshotStore { return newLocalStore(t) })
}

// TestConformanceWithoutLink runs the suite on a store that cannot hard link,
// so that restores copy every file.
func TestConformanceWithoutLink(t *testing.T) {
	if testing.Short() {
		t.Skip("the suite already ran with links")
	}
	conformance.TestStateBackend(t, Factory{}, func(t *testing.T) runtime.SnapshotStore {
		return &countingStore{SnapshotStore: newLocalStore(t)}
	})
}

// countingStore records the Puts made through it and hides Link.
type countingStore struct {
	runtime.SnapshotStore
	mu   sync.Mutex
	puts []string
}

func (s *countingStore) Put(ctx context.Context, name string, r io.Reader) error {
	s.mu.Lock()
	s.puts = append(s.puts, name)
	s.mu.Unlock()
	return s.SnapshotStore.Put(ctx, name, r)
}

// takePuts returns the names put since the last call.
func (s *countingStore) takePuts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.puts
	s.puts = nil
	return p
}

func openTest(t testing.TB, store runtime.SnapshotStore, cacheBytes int64, restore ...runtime.StateHandle) *backend {
	t.Helper()
	b, err := open(context.Background(), runtime.BackendConfig{
		Dir:        filepath.Join(t.TempDir(), "state"),
		KeyGroups:  runtime.KeyGroupRange{First: 0, Last: 127},
		Restore:    restore,
		Store:      store,
		Prefix:     "job/op/",
		CacheBytes: cacheBytes,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func checkpoint(t testing.TB, b *backend, id int64) runtime.StateHandle {
	t.Helper()
	up, err := b.Checkpoint(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	h, err := up(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSecondCheckpointUploadsOnlyNewSSTables(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restore bool // take the second checkpoint on an instance restored from the first
	}{
		{name: "same instance"},
		{name: "restored instance", restore: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &countingStore{SnapshotStore: newLocalStore(t)}
			b := openTest(t, store, 0)
			for i := range 50_000 {
				if err := b.Set(fmt.Appendf(runtime.KeyGroupPrefix(i%128), "key-%d", i), []byte("some value")); err != nil {
					t.Fatal(err)
				}
			}
			h1 := checkpoint(t, b, 1)
			first := store.takePuts()
			if sst := countSuffix(first, ".sst"); sst == 0 {
				t.Fatalf("first checkpoint uploaded no SSTable: %q", first)
			}
			if tc.restore {
				b = openTest(t, store, 0, h1)
				store.takePuts()
			}
			if err := b.Set(fmt.Appendf(runtime.KeyGroupPrefix(5), "key-%d", 5), []byte("changed")); err != nil {
				t.Fatal(err)
			}
			h2 := checkpoint(t, b, 2)
			second := store.takePuts()

			old := map[string]bool{}
			for _, f := range h1.Files {
				old[f.Object] = true
			}
			var newSST []string
			for _, f := range h2.Files {
				if strings.HasSuffix(f.Name, ".sst") && !old[f.Object] {
					newSST = append(newSST, f.Object)
				}
			}
			if len(newSST) != 1 {
				t.Fatalf("second checkpoint lists %d new SSTables %q, want the one flushed with the change", len(newSST), newSST)
			}
			if got := filterSuffix(second, ".sst"); len(got) != 1 || got[0] != newSST[0] {
				t.Fatalf("second checkpoint put SSTables %q, want only the new %q", got, newSST[0])
			}
			for _, name := range second {
				if old[name] {
					t.Errorf("second checkpoint put %q again, an object of the first", name)
				}
			}
			if n := countSuffix(fileNames(h2), ".sst"); n < 2 {
				t.Fatalf("second handle lists %d SSTables, want the old ones and the new one: %v", n, h2.Files)
			}
		})
	}
}

func fileNames(h runtime.StateHandle) []string {
	var out []string
	for _, f := range h.Files {
		out = append(out, f.Name)
	}
	return out
}

func filterSuffix(names []string, suffix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n, suffix) {
			out = append(out, n)
		}
	}
	return out
}

func countSuffix(names []string, suffix string) int { return len(filterSuffix(names, suffix)) }

// blockingStore blocks every Put until its context ends.
type blockingStore struct {
	runtime.SnapshotStore
	putStarted chan struct{}
}

func (s *blockingStore) Put(ctx context.Context, name string, r io.Reader) error {
	select {
	case s.putStarted <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestCloseCancelsUpload(t *testing.T) {
	store := &blockingStore{SnapshotStore: newLocalStore(t), putStarted: make(chan struct{}, 1)}
	b := openTest(t, store, 0)
	if err := b.Set([]byte("\x00\x01k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	up, err := b.Checkpoint(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := up(context.Background())
		done <- err
	}()
	<-store.putStarted
	if err := b.Close(); err != nil {
		t.Fatalf("Close during an upload: %v", err)
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("upload interrupted by Close = %v, want context.Canceled", err)
	}
	if _, err := up(context.Background()); err == nil {
		t.Fatal("a second run of the same Upload succeeded")
	}
}

func TestUploadRunsOnce(t *testing.T) {
	b := openTest(t, newLocalStore(t), 0)
	up, err := b.Checkpoint(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := up(context.Background()); err == nil || !strings.Contains(err.Error(), "already ran") {
		t.Fatalf("second run of an Upload = %v, want an error saying it already ran", err)
	}
	up2, err := b.Checkpoint(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := up2(context.Background()); !errors.Is(err, errClosed) {
		t.Fatalf("Upload after Close = %v, want errClosed", err)
	}
	if _, _, err := b.Get([]byte("k")); !errors.Is(err, errClosed) {
		t.Fatalf("Get after Close = %v, want errClosed", err)
	}
}

func TestOpenRejects(t *testing.T) {
	store := newLocalStore(t)
	good := checkpoint(t, openTest(t, store, 0), 1)
	badName := good
	badName.Files = append([]runtime.FileRef(nil), good.Files...)
	badName.Files[0].Name = "../escape.sst"
	dup := good
	dup.Files = append(append([]runtime.FileRef(nil), good.Files...), good.Files[0])
	other := good
	other.Backend = "memory"
	half := func(first, last int) runtime.StateHandle {
		h := good
		h.KeyGroups = runtime.KeyGroupRange{First: first, Last: last}
		return h
	}
	for _, tc := range []struct {
		name    string
		cfg     runtime.BackendConfig
		corrupt bool   // the error must wrap runtime.ErrCorruptSnapshot
		want    string // and contain this
	}{
		{name: "no directory", cfg: runtime.BackendConfig{Store: store}, want: "Dir is empty"},
		{name: "no store", cfg: runtime.BackendConfig{Dir: t.TempDir()}, want: "Store is nil"},
		{name: "negative cache", cfg: runtime.BackendConfig{Dir: t.TempDir(), Store: store, CacheBytes: -1}, want: "negative"},
		{name: "other backend", cfg: runtime.BackendConfig{Dir: t.TempDir(), Store: store, Restore: []runtime.StateHandle{other}}, want: `"memory"`},
		{name: "file name with a path", corrupt: true, want: "not a plain file name",
			cfg: runtime.BackendConfig{Dir: t.TempDir(), Store: store, KeyGroups: good.KeyGroups, Restore: []runtime.StateHandle{badName}}},
		{name: "file listed twice", corrupt: true, want: "twice",
			cfg: runtime.BackendConfig{Dir: t.TempDir(), Store: store, KeyGroups: good.KeyGroups, Restore: []runtime.StateHandle{dup}}},
		{name: "overlapping handles", want: "both hold key groups",
			cfg: runtime.BackendConfig{Dir: t.TempDir(), Store: store, KeyGroups: runtime.KeyGroupRange{First: 0, Last: 127},
				Restore: []runtime.StateHandle{half(0, 70), half(60, 127)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Factory{}.Open(context.Background(), tc.cfg)
			if err == nil {
				b.Close()
				t.Fatal("Open succeeded")
			}
			if errors.Is(err, runtime.ErrCorruptSnapshot) != tc.corrupt || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v; want an error containing %q, wrapping ErrCorruptSnapshot: %v", err, tc.want, tc.corrupt)
			}
		})
	}
}

func TestOpenClearsLeftovers(t *testing.T) {
	dir := t.TempDir()
	// What a crashed instance may leave: a database and a checkpoint directory.
	for _, p := range []string{"db/000001.sst", "checkpoints/3-1/MANIFEST-000001", "restore/0/x"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	other := filepath.Join(dir, "not-ours")
	if err := os.WriteFile(other, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := Factory{}.Open(context.Background(), runtime.BackendConfig{Dir: dir, Store: newLocalStore(t)})
	if err != nil {
		t.Fatalf("Open over leftovers: %v", err)
	}
	n := 0
	if err := b.Scan(nil, nil, func(k, v []byte) bool { n++; return true }); err != nil || n != 0 {
		t.Fatalf("fresh state over leftovers has %d entries (%v)", n, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("Close removed a file it does not own: %v", err)
	}
}

func TestReadAfterEviction(t *testing.T) {
	const cacheBytes = 64 << 10
	b := openTest(t, newLocalStore(t), cacheBytes)
	kept := []byte("\x00\x05kept")
	deleted := []byte("\x00\x05deleted")
	for _, k := range [][]byte{kept, deleted} {
		if err := b.Set(k, []byte("value")); err != nil {
			t.Fatal(err)
		}
	}
	// A scan writes the cache back: now Pebble has both keys, and the delete
	// is a dirty tombstone in the cache only.
	if err := b.Scan(nil, nil, func(k, v []byte) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(deleted); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(kept, []byte("changed")); err != nil {
		t.Fatal(err)
	}
	// New keys push both out of the cache.
	evicted := func(k []byte) bool { _, ok := b.cache.index[string(k)]; return !ok }
	for i := 0; !evicted(kept) || !evicted(deleted); i++ {
		if i > cacheBytes {
			t.Fatal("the two keys never left the cache")
		}
		if err := b.Set(fmt.Appendf(runtime.KeyGroupPrefix(9), "filler-%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok, err := b.Get(kept); err != nil || !ok || string(v) != "changed" {
		t.Fatalf("Get of an evicted dirty key = %q, %v, %v; want %q", v, ok, err, "changed")
	}
	if v, ok, err := b.Get(deleted); err != nil || ok {
		t.Fatalf("Get of a key whose evicted tombstone was written back = %q, %v, %v; want absent", v, ok, err)
	}
}

func TestEmptyKey(t *testing.T) {
	b := openTest(t, newLocalStore(t), 0)
	if _, ok, err := b.Get([]byte{}); ok || err != nil {
		t.Fatalf("Get of the empty key in an empty backend = %v, %v", ok, err)
	}
	if err := b.Set([]byte{}, []byte("v")); err != nil {
		t.Fatal(err)
	}
	// A scan writes it back; a new cache forgets it, so Get asks Pebble.
	if err := b.Scan(nil, nil, func(k, v []byte) bool { return true }); err != nil {
		t.Fatal(err)
	}
	b.cache = newCache(DefaultCacheBytes)
	if v, ok, err := b.Get([]byte{}); !ok || err != nil || string(v) != "v" {
		t.Fatalf("Get of the empty key = %q, %v, %v; want %q", v, ok, err, "v")
	}
}

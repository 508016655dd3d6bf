package pebble

import (
	"context"
	"fmt"
	"io"
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

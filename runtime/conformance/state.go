package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/weirstream/weir/runtime"
)

// Sizes of the state backend suite.
const (
	// stateMaxParallelism is the maxParallelism of the rescaling tests.
	stateMaxParallelism = 128
	// stateLargeValueBytes is the size of the values of the large-value test.
	stateLargeValueBytes = 1 << 20
	// stateSmallCacheBytes is the cache bound of the tests that overflow it.
	stateSmallCacheBytes = 64 << 10
	// stateManyKeys is how many keys the many-keys test writes: far more than
	// stateSmallCacheBytes holds.
	stateManyKeys = 20_000
	// statePrefix is where in the store the suite's backends put checkpoints.
	statePrefix = "job/op/"
)

// stateAllGroups is every key group of the suite's jobs.
var stateAllGroups = runtime.KeyGroupRange{First: 0, Last: stateMaxParallelism - 1}

// TestStateBackend checks the runtime.StateBackend contract on backends opened
// by f, with snapshot stores made by newStore (a new, empty one per subtest):
// point reads and writes, ordered scans and range deletes, copies of the
// caller's buffers, checkpoints that capture the state at Checkpoint time and
// restore it exactly, incremental checkpoints (a handle of several files shares
// objects with the one before), restores that rescale (key
// groups split and merged across handles), corrupt and missing snapshot
// objects (runtime.ErrCorruptSnapshot), large values, more keys than the cache
// holds, and Close.
func TestStateBackend(t *testing.T, f runtime.StateBackendFactory, newStore func(t *testing.T) runtime.SnapshotStore) {
	env := func(t *testing.T) *stateEnv { return &stateEnv{t: t, f: f, store: newStore(t)} }

	t.Run("GetSetDelete", func(t *testing.T) {
		e := env(t)
		b := e.open(stateAllGroups, 0)
		k := stateKey(3, "k")
		steps := []struct {
			name  string
			do    func() error
			value string
			ok    bool
		}{
			{name: "absent", do: func() error { return nil }},
			{name: "set", do: func() error { return b.Set(k, []byte("v1")) }, value: "v1", ok: true},
			{name: "overwrite longer", do: func() error { return b.Set(k, []byte("value two")) }, value: "value two", ok: true},
			{name: "overwrite shorter", do: func() error { return b.Set(k, []byte("3")) }, value: "3", ok: true},
			{name: "empty value is present", do: func() error { return b.Set(k, []byte{}) }, value: "", ok: true},
			{name: "delete", do: func() error { return b.Delete(k) }},
			{name: "delete again", do: func() error { return b.Delete(k) }},
			{name: "set after delete", do: func() error { return b.Set(k, []byte("back")) }, value: "back", ok: true},
		}
		for _, s := range steps {
			if err := s.do(); err != nil {
				t.Fatalf("step %q: %v", s.name, err)
			}
			v, ok, err := b.Get(k)
			if err != nil || ok != s.ok || string(v) != s.value {
				t.Fatalf("step %q: Get = %q, %v, %v; want %q, %v, nil", s.name, v, ok, err, s.value, s.ok)
			}
		}
		if v, ok, err := b.Get(stateKey(3, "never set")); ok || err != nil {
			t.Fatalf("Get of a key never set = %q, %v, %v; want absent", v, ok, err)
		}
		if err := b.Delete(stateKey(4, "never set")); err != nil {
			t.Fatalf("Delete of a key never set: %v", err)
		}
	})

	t.Run("CopiesBuffers", func(t *testing.T) {
		e := env(t)
		b := e.open(stateAllGroups, 0)
		key := stateKey(1, "reused")
		val := []byte("original")
		if err := b.Set(key, val); err != nil {
			t.Fatal(err)
		}
		copy(key[2:], "REUSED")
		copy(val, "CHANGED!")
		if v, ok, err := b.Get(stateKey(1, "reused")); err != nil || !ok || string(v) != "original" {
			t.Fatalf("after the caller reused its buffers Get = %q, %v, %v; want %q", v, ok, err, "original")
		}
		if _, ok, err := b.Get(key); err != nil || ok {
			t.Fatalf("the key the caller's buffer now holds is present (%v, %v): Set kept the caller's key slice", ok, err)
		}
		// A value returned by Get may be passed straight back to Set.
		v, _, err := b.Get(stateKey(1, "reused"))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Set(stateKey(2, "copy"), v); err != nil {
			t.Fatal(err)
		}
		if err := b.Set(stateKey(1, "reused"), []byte("new")); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := b.Get(stateKey(2, "copy")); err != nil || !ok || string(v) != "original" {
			t.Fatalf("a value set from Get's result changed with its source: %q, %v, %v", v, ok, err)
		}
	})

	t.Run("Scan", func(t *testing.T) {
		e := env(t)
		b := e.open(stateAllGroups, 0)
		m := stateModel{}
		for kg := range 6 {
			for _, s := range []string{"", "a", "a\x00", "ab", "b"} {
				m.set(t, b, stateKey(kg, s), fmt.Sprintf("%d/%s", kg, s))
			}
		}
		m.del(t, b, stateKey(2, "ab"))
		m.set(t, b, stateKey(2, "a"), "changed")
		for _, tc := range []struct {
			name       string
			start, end []byte
			limit      int // stop after this many (0: all)
		}{
			{name: "key groups 1 to 3", start: runtime.KeyGroupPrefix(1), end: runtime.KeyGroupPrefix(4)},
			{name: "start inclusive end exclusive", start: stateKey(2, "a"), end: stateKey(3, "a")},
			{name: "within a key group", start: stateKey(4, "a"), end: stateKey(4, "b")},
			{name: "everything", start: []byte{}, end: runtime.KeyGroupPrefix(runtime.MaxKeyGroups)},
			{name: "empty range", start: stateKey(1, "a"), end: stateKey(1, "a")},
			{name: "nothing there", start: runtime.KeyGroupPrefix(10), end: runtime.KeyGroupPrefix(20)},
			{name: "stop early", start: runtime.KeyGroupPrefix(0), end: runtime.KeyGroupPrefix(6), limit: 3},
		} {
			t.Run(tc.name, func(t *testing.T) {
				want := m.between(tc.start, tc.end)
				if tc.limit > 0 {
					want = want[:tc.limit]
				}
				got := stateScan(t, b, tc.start, tc.end, tc.limit)
				stateDiff(t, "Scan", got, want)
			})
		}
	})

	t.Run("DeleteRange", func(t *testing.T) {
		e := env(t)
		b := e.open(stateAllGroups, 0)
		m := stateModel{}
		for kg := range 10 {
			for i := range 5 {
				m.set(t, b, stateKey(kg, fmt.Sprint(i)), fmt.Sprintf("v%d.%d", kg, i))
			}
		}
		// Key group 9 has more keys than a backend might delete one by one.
		for i := range 500 {
			m.set(t, b, stateKey(9, fmt.Sprintf("many%04d", i)), "x")
		}
		m.set(t, b, stateKey(4, "1"), "rewritten") // a change not yet anywhere but the cache, if any
		for _, tc := range []struct {
			name       string
			start, end []byte
		}{
			{name: "key groups 3 to 5", start: runtime.KeyGroupPrefix(3), end: runtime.KeyGroupPrefix(6)},
			{name: "inside a key group", start: stateKey(7, "1"), end: stateKey(7, "3")},
			{name: "many keys", start: runtime.KeyGroupPrefix(9), end: runtime.KeyGroupPrefix(10)},
			{name: "empty range", start: stateKey(8, "2"), end: stateKey(8, "2")},
			{name: "nothing there", start: runtime.KeyGroupPrefix(50), end: runtime.KeyGroupPrefix(60)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := b.DeleteRange(tc.start, tc.end); err != nil {
					t.Fatalf("DeleteRange: %v", err)
				}
				m.deleteRange(tc.start, tc.end)
				m.check(t, b, "after DeleteRange")
			})
		}
		m.set(t, b, stateKey(4, "1"), "set again in a deleted range")
		m.set(t, b, stateKey(4, "new"), "new in a deleted range")
		m.check(t, b, "after setting keys in a deleted range")
	})

	t.Run("CheckpointRestore", func(t *testing.T) {
		e := env(t)
		b := e.open(stateAllGroups, 0)
		m := stateModel{}
		for kg := range 20 {
			for i := range 10 {
				m.set(t, b, stateKey(kg*5, fmt.Sprint(i)), fmt.Sprintf("value %d/%d", kg, i))
			}
		}
		m.del(t, b, stateKey(0, "3"))
		upload, err := b.Checkpoint(t.Context(), 1)
		if err != nil {
			t.Fatalf("Checkpoint: %v", err)
		}
		snap := m.clone()
		// Changes after Checkpoint, before the Upload runs, are not in it.
		m.set(t, b, stateKey(0, "0"), "after checkpoint")
		m.set(t, b, stateKey(1, "new"), "after checkpoint")
		m.del(t, b, stateKey(5, "5"))
		m.set(t, b, stateKey(0, "3"), "deleted before, set after")
		m.deleteRange(runtime.KeyGroupPrefix(10), runtime.KeyGroupPrefix(11))
		if err := b.DeleteRange(runtime.KeyGroupPrefix(10), runtime.KeyGroupPrefix(11)); err != nil {
			t.Fatal(err)
		}
		h, err := upload(t.Context())
		if err != nil {
			t.Fatalf("Upload: %v", err)
		}
		e.checkHandle(h, stateAllGroups)
		m.check(t, b, "the backend after its checkpoint")
		e.close(b) // a handle outlives the backend that wrote it
		r := e.open(stateAllGroups, 0, h)
		snap.check(t, r, "restored from checkpoint 1")
	})

	t.Run("UploadWhileServing", func(t *testing.T) {
		e := env(t)
		b := e.open(stateAllGroups, 0)
		m := stateModel{}
		for i := range 2000 {
			m.set(t, b, stateKey(i%stateMaxParallelism, fmt.Sprint(i)), fmt.Sprint("v", i))
		}
		upload, err := b.Checkpoint(t.Context(), 7)
		if err != nil {
			t.Fatal(err)
		}
		snap := m.clone()
		var h runtime.StateHandle
		var uploadErr error
		var wg sync.WaitGroup
		wg.Go(func() { h, uploadErr = upload(t.Context()) })
		for i := range 2000 {
			k := stateKey(i%stateMaxParallelism, fmt.Sprint(i))
			if i%3 == 0 {
				m.del(t, b, k)
			} else {
				m.set(t, b, k, fmt.Sprint("w", i))
			}
			if _, _, err := b.Get(stateKey(i%stateMaxParallelism, fmt.Sprint(i/2))); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
		if uploadErr != nil {
			t.Fatalf("Upload: %v", uploadErr)
		}
		m.check(t, b, "the backend written during its upload")
		snap.check(t, e.open(stateAllGroups, 0, h), "restored from the checkpoint uploaded meanwhile")
	})

	t.Run("SuccessiveCheckpoints", func(t *testing.T) {
		e := env(t)
		b := e.open(stateAllGroups, 0)
		m := stateModel{}
		for i := range 3000 {
			m.set(t, b, stateKey(i%stateMaxParallelism, fmt.Sprint(i)), strings.Repeat("x", i%50))
		}
		var handles []runtime.StateHandle
		var snaps []stateModel
		for id := int64(1); id <= 4; id++ {
			handles = append(handles, e.checkpoint(b, id))
			snaps = append(snaps, m.clone())
			// A small change between checkpoints.
			m.set(t, b, stateKey(int(id), "changed"), fmt.Sprint("in checkpoint ", id+1))
			m.del(t, b, stateKey(int(id), fmt.Sprint(id)))
		}
		for _, h := range handles {
			e.checkHandle(h, stateAllGroups)
		}
		// Incremental: after a small change, the second checkpoint reuses
		// objects of the first. (Later ones may not: a backend may compact.) A
		// backend that writes its whole state as one object is not incremental
		// by design, and the contract allows it.
		if len(handles[0].Files) > 1 && !stateShareObjects(handles[0], handles[1]) {
			t.Errorf("checkpoint 2 shares no object with checkpoint 1 after a small change: not incremental\n%q\n%q",
				stateObjects(handles[0]), stateObjects(handles[1]))
		}
		for i, h := range handles {
			snaps[i].check(t, e.open(stateAllGroups, 0, h), fmt.Sprintf("restored from checkpoint %d of %d", i+1, len(handles)))
		}
	})

	t.Run("Rescale", func(t *testing.T) {
		e := env(t)
		a := e.open(runtime.KeyGroupsFor(0, 2, stateMaxParallelism), 0)
		b := e.open(runtime.KeyGroupsFor(1, 2, stateMaxParallelism), 0)
		all := stateModel{}
		for kg := range stateMaxParallelism {
			owner := a
			if kg >= 64 {
				owner = b
			}
			for i := range 3 {
				all.set(t, owner, stateKey(kg, fmt.Sprint(i)), fmt.Sprintf("kg%d.%d", kg, i))
			}
		}
		ha, hb := e.checkpoint(a, 1), e.checkpoint(b, 1)
		e.checkHandle(ha, runtime.KeyGroupRange{First: 0, Last: 63})
		e.checkHandle(hb, runtime.KeyGroupRange{First: 64, Last: 127})
		e.close(a)
		e.close(b)
		for _, tc := range []struct {
			name    string
			groups  runtime.KeyGroupRange
			handles []runtime.StateHandle
		}{
			{name: "scale out across both", groups: runtime.KeyGroupRange{First: 32, Last: 95}, handles: []runtime.StateHandle{ha, hb}},
			{name: "scale in", groups: stateAllGroups, handles: []runtime.StateHandle{ha, hb}},
			{name: "scale in reverse handle order", groups: stateAllGroups, handles: []runtime.StateHandle{hb, ha}},
			{name: "inside one handle", groups: runtime.KeyGroupRange{First: 70, Last: 80}, handles: []runtime.StateHandle{ha, hb}},
			{name: "first half of one handle", groups: runtime.KeyGroupRange{First: 0, Last: 31}, handles: []runtime.StateHandle{ha, hb}},
			{name: "single key group", groups: runtime.KeyGroupRange{First: 64, Last: 64}, handles: []runtime.StateHandle{ha, hb}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				counting := &stateCountingStore{SnapshotStore: e.store}
				ce := &stateEnv{t: t, f: f, store: counting}
				r := ce.open(tc.groups, 0, tc.handles...)
				want := all.inGroups(tc.groups)
				want.check(t, r, fmt.Sprintf("key groups %d..%d restored", tc.groups.First, tc.groups.Last))
				// A handle that holds none of the key groups is not read.
				for _, h := range tc.handles {
					if h.KeyGroups.Intersects(tc.groups) {
						continue
					}
					for _, o := range stateObjects(h) {
						if counting.got(o) && !slices.ContainsFunc(tc.handles, func(x runtime.StateHandle) bool {
							return x.KeyGroups.Intersects(tc.groups) && slices.Contains(stateObjects(x), o)
						}) {
							t.Errorf("restore read %q of a handle for key groups %d..%d", o, h.KeyGroups.First, h.KeyGroups.Last)
						}
					}
				}
				// The rescaled state checkpoints and restores like any other.
				want.set(t, r, stateKey(tc.groups.First, "after rescale"), "x")
				h := ce.checkpoint(r, 2)
				ce.checkHandle(h, tc.groups)
				want.check(t, ce.open(tc.groups, 0, h), "restored after a rescale")
			})
		}
	})

	t.Run("CorruptObject", func(t *testing.T) {
		e := env(t)
		b := e.open(stateAllGroups, 0)
		m := stateModel{}
		for i := range 500 {
			m.set(t, b, stateKey(i%stateMaxParallelism, fmt.Sprint(i)), fmt.Sprint("value ", i))
		}
		h := e.checkpoint(b, 1)
		if len(h.Files) == 0 {
			t.Skip("the handle lists no files: nothing to corrupt")
		}
		for _, file := range h.Files {
			t.Run(file.Name, func(t *testing.T) {
				e := e.with(t)
				restore := e.damage(file.Object, false)
				defer restore()
				e.openCorrupt(file.Object, stateAllGroups, h)
			})
		}
		// The same check when a rescale restores the handle.
		t.Run("rescale", func(t *testing.T) {
			e := e.with(t)
			lower := e.open(runtime.KeyGroupRange{First: 0, Last: 63}, 0)
			upper := e.open(runtime.KeyGroupRange{First: 64, Last: 127}, 0)
			for kg := range stateMaxParallelism {
				owner := lower
				if kg >= 64 {
					owner = upper
				}
				if err := owner.Set(stateKey(kg, "k"), []byte("v")); err != nil {
					t.Fatal(err)
				}
			}
			hl, hu := e.checkpoint(lower, 2), e.checkpoint(upper, 2)
			object := hl.Files[len(hl.Files)/2].Object
			restore := e.damage(object, false)
			defer restore()
			e.openCorrupt(object, runtime.KeyGroupRange{First: 32, Last: 95}, hl, hu)
		})
	})

	t.Run("MissingObject", func(t *testing.T) {
		e := env(t)
		b := e.open(stateAllGroups, 0)
		for i := range 500 {
			if err := b.Set(stateKey(i%stateMaxParallelism, fmt.Sprint(i)), []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
		h := e.checkpoint(b, 1)
		if len(h.Files) == 0 {
			t.Skip("the handle lists no files: nothing to remove")
		}
		for _, file := range h.Files {
			t.Run(file.Name, func(t *testing.T) {
				e := e.with(t)
				restore := e.damage(file.Object, true)
				defer restore()
				e.openCorrupt(file.Object, stateAllGroups, h)
			})
		}
	})

	t.Run("LargeValues", func(t *testing.T) {
		e := env(t)
		b := e.open(stateAllGroups, 4*stateSmallCacheBytes)
		m := stateModel{}
		rng := rand.New(rand.NewPCG(3, 4))
		for i := range 5 {
			v := make([]byte, stateLargeValueBytes)
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
			m.set(t, b, stateKey(i*20, "large"), string(v))
		}
		m.set(t, b, stateKey(0, "large"), strings.Repeat("z", stateLargeValueBytes+1))
		m.set(t, b, stateKey(0, "small"), "small")
		m.check(t, b, "large values")
		h := e.checkpoint(b, 1)
		m.check(t, e.open(stateAllGroups, 4*stateSmallCacheBytes, h), "large values restored")
	})

	t.Run("ManyKeys", func(t *testing.T) {
		e := env(t)
		b := e.open(stateAllGroups, stateSmallCacheBytes)
		m := stateModel{}
		key := func(i int) []byte { return stateKey(i%stateMaxParallelism, fmt.Sprintf("key-%06d", i)) }
		for i := range stateManyKeys {
			m.set(t, b, key(i), fmt.Sprintf("value-%06d", i))
		}
		rng := rand.New(rand.NewPCG(5, 6))
		for _, i := range rng.Perm(stateManyKeys) {
			switch {
			case i%7 == 0:
				m.del(t, b, key(i))
			case i%3 == 0:
				m.set(t, b, key(i), fmt.Sprintf("rewritten-%d", i))
			}
		}
		m.check(t, b, "more keys than the cache holds")
		h := e.checkpoint(b, 1)
		m.check(t, e.open(stateAllGroups, stateSmallCacheBytes, h), "more keys than the cache holds, restored")
	})

	t.Run("CloseAndReopen", func(t *testing.T) {
		e := env(t)
		dir := filepath.Join(t.TempDir(), "subtask")
		b, err := e.tryOpen(runtime.BackendConfig{Dir: dir, KeyGroups: stateAllGroups})
		if err != nil {
			t.Fatal(err)
		}
		m := stateModel{}
		m.set(t, b, stateKey(1, "a"), "1")
		m.set(t, b, stateKey(2, "b"), "2")
		h := e.checkpoint(b, 1)
		e.close(b)
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			t.Errorf("after Close the directory still holds %d entries; Close must remove the backend's local files", len(entries))
		}
		r, err := e.tryOpen(runtime.BackendConfig{Dir: dir, KeyGroups: stateAllGroups, Restore: []runtime.StateHandle{h}})
		if err != nil {
			t.Fatalf("reopen in the same directory: %v", err)
		}
		m.check(t, r, "reopened from a checkpoint in the same directory")
	})

	t.Run("RestoresDoNotCollide", func(t *testing.T) {
		// Several instances restored from one handle, and the instance that
		// wrote it, each take checkpoint 2 of their own state.
		e := env(t)
		origin := e.open(stateAllGroups, 0)
		m := stateModel{}
		for i := range 300 {
			m.set(t, origin, stateKey(i%stateMaxParallelism, fmt.Sprint(i)), "base")
		}
		h := e.checkpoint(origin, 1)
		instances := []*stateBackend{origin, e.open(stateAllGroups, 0, h), e.open(stateAllGroups, 0, h)}
		models := make([]stateModel, len(instances))
		handles := make([]runtime.StateHandle, len(instances))
		for i, b := range instances {
			models[i] = m.clone()
			models[i].set(t, b, stateKey(0, "who"), fmt.Sprint("instance ", i))
			for j := range 50 {
				models[i].set(t, b, stateKey(j, fmt.Sprint("extra", i)), fmt.Sprint(j))
			}
		}
		for i, b := range instances {
			handles[i] = e.checkpoint(b, 2)
		}
		for _, b := range instances {
			e.close(b)
		}
		for i, h := range handles {
			models[i].check(t, e.open(stateAllGroups, 0, h), fmt.Sprintf("instance %d restored", i))
		}
		m.check(t, e.open(stateAllGroups, 0, h), "the first checkpoint, still intact")
	})

	t.Run("EmptyState", func(t *testing.T) {
		e := env(t)
		h := e.checkpoint(e.open(stateAllGroups, 0), 1)
		e.checkHandle(h, stateAllGroups)
		stateModel{}.check(t, e.open(stateAllGroups, 0, h), "restored empty state")
		stateModel{}.check(t, e.open(runtime.KeyGroupRange{First: 10, Last: 20}, 0, h), "rescaled empty state")
	})
}

// stateEnv opens backends of the factory under test on one store.
type stateEnv struct {
	t     *testing.T
	f     runtime.StateBackendFactory
	store runtime.SnapshotStore
}

// with returns e for subtest t.
func (e *stateEnv) with(t *testing.T) *stateEnv { return &stateEnv{t: t, f: e.f, store: e.store} }

// stateBackend is a backend under test that the suite closes exactly once.
type stateBackend struct {
	runtime.StateBackend
	closed bool
}

// open opens a backend for groups in a new directory, restoring handles, and
// closes it when the test ends.
func (e *stateEnv) open(groups runtime.KeyGroupRange, cacheBytes int64, handles ...runtime.StateHandle) *stateBackend {
	e.t.Helper()
	b, err := e.tryOpen(runtime.BackendConfig{
		Dir:        filepath.Join(e.t.TempDir(), "state"),
		KeyGroups:  groups,
		Restore:    handles,
		CacheBytes: cacheBytes,
	})
	if err != nil {
		e.t.Fatalf("Open(key groups %d..%d, %d handles): %v", groups.First, groups.Last, len(handles), err)
	}
	return b
}

// tryOpen opens a backend with cfg, filling in the store and prefix.
func (e *stateEnv) tryOpen(cfg runtime.BackendConfig) (*stateBackend, error) {
	cfg.Store = e.store
	cfg.Prefix = statePrefix
	sb, err := e.f.Open(e.t.Context(), cfg)
	if err != nil {
		return nil, err
	}
	b := &stateBackend{StateBackend: sb}
	e.t.Cleanup(func() { e.close(b) })
	return b, nil
}

// close closes b unless it is closed already.
func (e *stateEnv) close(b *stateBackend) {
	e.t.Helper()
	if b.closed {
		return
	}
	b.closed = true
	if err := b.Close(); err != nil {
		e.t.Errorf("Close: %v", err)
	}
}

// checkpoint takes checkpoint id of b and uploads it.
func (e *stateEnv) checkpoint(b *stateBackend, id int64) runtime.StateHandle {
	e.t.Helper()
	upload, err := b.Checkpoint(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("Checkpoint(%d): %v", id, err)
	}
	h, err := upload(e.t.Context())
	if err != nil {
		e.t.Fatalf("Upload of checkpoint %d: %v", id, err)
	}
	return h
}

// checkHandle checks what a handle says about itself: its backend, its key
// groups, and that every object it lists is in the store with its size.
func (e *stateEnv) checkHandle(h runtime.StateHandle, groups runtime.KeyGroupRange) {
	e.t.Helper()
	if h.Backend != e.f.Name() {
		e.t.Errorf("handle Backend = %q, want the factory's name %q", h.Backend, e.f.Name())
	}
	if h.KeyGroups != groups {
		e.t.Errorf("handle KeyGroups = %+v, want %+v", h.KeyGroups, groups)
	}
	for _, f := range h.Files {
		rc, err := e.store.Get(e.t.Context(), f.Object)
		if err != nil {
			e.t.Errorf("handle file %s: object %q: %v", f.Name, f.Object, err)
			continue
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != f.Size {
			e.t.Errorf("handle file %s: object %q has %d bytes (%v), the handle says %d", f.Name, f.Object, n, err, f.Size)
		}
	}
}

// damage corrupts object (flips a byte, or adds one to an empty object), or
// removes it, and returns a function that puts the original back.
func (e *stateEnv) damage(object string, remove bool) (restore func()) {
	e.t.Helper()
	ctx := e.t.Context()
	orig := storeGet(e.t, e.store, object)
	if remove {
		if err := e.store.Delete(ctx, object); err != nil {
			e.t.Fatal(err)
		}
	} else {
		bad := slices.Clone(orig)
		if len(bad) == 0 {
			bad = []byte{0}
		} else {
			bad[len(bad)/2] ^= 0x01
		}
		storePut(e.t, e.store, object, bad)
	}
	return func() { storePut(e.t, e.store, object, orig) }
}

// openCorrupt checks that a restore that needs object fails with an error that
// wraps runtime.ErrCorruptSnapshot and names the object.
func (e *stateEnv) openCorrupt(object string, groups runtime.KeyGroupRange, handles ...runtime.StateHandle) {
	e.t.Helper()
	b, err := e.tryOpen(runtime.BackendConfig{Dir: filepath.Join(e.t.TempDir(), "state"), KeyGroups: groups, Restore: handles})
	if err == nil {
		e.close(b)
		e.t.Fatalf("Open restored from a handle with a damaged object %q", object)
	}
	if !errors.Is(err, runtime.ErrCorruptSnapshot) {
		e.t.Fatalf("Open with a damaged object = %v, want an error wrapping runtime.ErrCorruptSnapshot", err)
	}
	if !strings.Contains(err.Error(), object) {
		e.t.Errorf("Open's error %q does not name the damaged object %q", err, object)
	}
}

// stateKey returns a state key of key group kg: the 2-byte key group, then rest.
func stateKey(kg int, rest string) []byte {
	return append(runtime.KeyGroupPrefix(kg), rest...)
}

// stateKV is one entry, as strings for readable messages.
type stateKV struct{ key, value string }

func (kv stateKV) String() string {
	v := kv.value
	if len(v) > 40 {
		v = fmt.Sprintf("%s...(%d bytes)", v[:20], len(v))
	}
	return fmt.Sprintf("%x=%q", kv.key, v)
}

// stateModel is what a backend should hold.
type stateModel map[string]string

func (m stateModel) clone() stateModel { return maps.Clone(m) }

// set sets key in b and in m.
func (m stateModel) set(t *testing.T, b runtime.StateBackend, key []byte, value string) {
	t.Helper()
	if err := b.Set(key, []byte(value)); err != nil {
		t.Fatalf("Set(%x): %v", key, err)
	}
	m[string(key)] = value
}

// del deletes key in b and in m.
func (m stateModel) del(t *testing.T, b runtime.StateBackend, key []byte) {
	t.Helper()
	if err := b.Delete(key); err != nil {
		t.Fatalf("Delete(%x): %v", key, err)
	}
	delete(m, string(key))
}

// deleteRange deletes [start, end) from m.
func (m stateModel) deleteRange(start, end []byte) {
	for k := range m {
		if k >= string(start) && k < string(end) {
			delete(m, k)
		}
	}
}

// between returns m's entries in [start, end), sorted.
func (m stateModel) between(start, end []byte) []stateKV {
	var out []stateKV
	for k, v := range m {
		if k >= string(start) && k < string(end) {
			out = append(out, stateKV{k, v})
		}
	}
	slices.SortFunc(out, func(a, b stateKV) int { return strings.Compare(a.key, b.key) })
	return out
}

// inGroups returns the entries of m in key groups r.
func (m stateModel) inGroups(r runtime.KeyGroupRange) stateModel {
	out := stateModel{}
	for k, v := range m {
		if r.Contains(runtime.KeyGroupOf([]byte(k))) {
			out[k] = v
		}
	}
	return out
}

// check compares b with m: a scan of every key group, and a Get of every key.
func (m stateModel) check(t *testing.T, b runtime.StateBackend, what string) {
	t.Helper()
	start, end := []byte{}, runtime.KeyGroupPrefix(runtime.MaxKeyGroups)
	stateDiff(t, what+": Scan", stateScan(t, b, start, end, 0), m.between(start, end))
	for k, want := range m {
		v, ok, err := b.Get([]byte(k))
		if err != nil || !ok || string(v) != want {
			t.Fatalf("%s: Get(%x) = %v, %v, %v; want %v", what, k, stateKV{k, string(v)}, ok, err, stateKV{k, want})
		}
	}
}

// stateScan scans [start, end) of b, stopping after limit entries if limit > 0,
// and checks that keys come in ascending order within the bounds.
func stateScan(t *testing.T, b runtime.StateBackend, start, end []byte, limit int) []stateKV {
	t.Helper()
	var out []stateKV
	err := b.Scan(start, end, func(k, v []byte) bool {
		out = append(out, stateKV{string(k), string(v)})
		return limit == 0 || len(out) < limit
	})
	if err != nil {
		t.Fatalf("Scan(%x, %x): %v", start, end, err)
	}
	for i, kv := range out {
		if kv.key < string(start) || kv.key >= string(end) {
			t.Fatalf("Scan(%x, %x) returned %v, outside the range", start, end, kv)
		}
		if i > 0 && out[i-1].key >= kv.key {
			t.Fatalf("Scan(%x, %x) returned %v after %v: not ascending", start, end, kv, out[i-1])
		}
	}
	return out
}

// stateDiff fails the test if got and want differ, showing the first difference.
func stateDiff(t *testing.T, what string, got, want []stateKV) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("%s: entry %d is %v, want %v (%d entries, want %d)", what, i, got[i], want[i], len(got), len(want))
		}
	}
	switch {
	case len(got) > len(want):
		t.Fatalf("%s: %d entries, want %d; first extra %v", what, len(got), len(want), got[len(want)])
	case len(got) < len(want):
		t.Fatalf("%s: %d entries, want %d; first missing %v", what, len(got), len(want), want[len(got)])
	}
}

// stateObjects returns the objects a handle lists.
func stateObjects(h runtime.StateHandle) []string {
	var out []string
	for _, f := range h.Files {
		out = append(out, f.Object)
	}
	return out
}

// stateShareObjects reports whether two handles list an object in common.
func stateShareObjects(a, b runtime.StateHandle) bool {
	objs := stateObjects(a)
	return slices.ContainsFunc(stateObjects(b), func(o string) bool { return slices.Contains(objs, o) })
}

// stateCountingStore records the objects read through it.
type stateCountingStore struct {
	runtime.SnapshotStore
	mu   sync.Mutex
	gets map[string]int
}

func (s *stateCountingStore) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	s.mu.Lock()
	if s.gets == nil {
		s.gets = map[string]int{}
	}
	s.gets[name]++
	s.mu.Unlock()
	return s.SnapshotStore.Get(ctx, name)
}

// got reports whether name was read.
func (s *stateCountingStore) got(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets[name] > 0
}

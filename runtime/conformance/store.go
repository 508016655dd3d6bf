package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/weirstream/weir/runtime"
)

// Sizes of the snapshot store suite.
const (
	// storeLargeObjectBytes is the size of the object that checks large copies
	// (bigger than any sensible copy buffer or single write).
	storeLargeObjectBytes = 9<<20 + 12345
	// storeConcurrentPutters is how many goroutines put objects at once.
	storeConcurrentPutters = 8
	// storeObjectsPerPutter is how many objects each of them puts.
	storeObjectsPerPutter = 16
)

// TestSnapshotStore checks the runtime.SnapshotStore contract on stores made by
// newStore, each empty and used by one subtest: Put and Get round trips, atomic
// replacement, Get of a missing object wrapping runtime.ErrNotExist, sorted
// prefix listing, idempotent Delete, concurrent Puts, and a failed Put leaving
// nothing visible.
func TestSnapshotStore(t *testing.T, newStore func(t *testing.T) runtime.SnapshotStore) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		s := newStore(t)
		for _, tc := range []struct {
			name string
			obj  string
			data []byte
		}{
			{name: "small", obj: "a", data: []byte("hello")},
			{name: "empty", obj: "empty", data: []byte{}},
			{name: "binary", obj: "bin/0", data: []byte{0, 0xff, '\n', '\r', 0x80}},
			{name: "nested", obj: "x/y/z/obj.sst", data: []byte("deep")},
			{name: "dots in names", obj: "op/.hidden/v1.2..3", data: []byte("dots")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				storePut(t, s, tc.obj, tc.data)
				if got := storeGet(t, s, tc.obj); !bytes.Equal(got, tc.data) {
					t.Fatalf("Get(%q) = %q, want %q", tc.obj, got, tc.data)
				}
				if names := storeList(t, s, tc.obj); !slices.Contains(names, tc.obj) {
					t.Fatalf("List(%q) = %q, want it to contain %q", tc.obj, names, tc.obj)
				}
			})
		}
	})

	t.Run("Overwrite", func(t *testing.T) {
		s := newStore(t)
		storePut(t, s, "obj", []byte("first version, longer than the second"))
		storePut(t, s, "obj", []byte("second"))
		if got := storeGet(t, s, "obj"); string(got) != "second" {
			t.Fatalf("after overwrite Get = %q, want %q", got, "second")
		}
		if names := storeList(t, s, ""); !slices.Equal(names, []string{"obj"}) {
			t.Fatalf("after overwrite List = %q, want [obj]", names)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		s := newStore(t)
		storePut(t, s, "dir/present", []byte("x"))
		for _, name := range []string{"absent", "dir/absent", "nodir/absent", "dir/present/below"} {
			rc, err := s.Get(ctx, name)
			if err == nil {
				rc.Close()
				t.Fatalf("Get(%q) of a missing object succeeded", name)
			}
			if !errors.Is(err, runtime.ErrNotExist) {
				t.Fatalf("Get(%q) = %v, want an error wrapping runtime.ErrNotExist", name, err)
			}
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		storePut(t, s, "d/1", []byte("one"))
		storePut(t, s, "d/2", []byte("two"))
		if err := s.Delete(ctx, "d/1"); err != nil {
			t.Fatalf("Delete(d/1): %v", err)
		}
		if _, err := s.Get(ctx, "d/1"); !errors.Is(err, runtime.ErrNotExist) {
			t.Fatalf("Get after Delete = %v, want runtime.ErrNotExist", err)
		}
		if err := s.Delete(ctx, "d/1"); err != nil {
			t.Fatalf("second Delete(d/1) = %v, want nil (Delete is idempotent)", err)
		}
		if err := s.Delete(ctx, "never/existed"); err != nil {
			t.Fatalf("Delete of a never existing object = %v, want nil", err)
		}
		if names := storeList(t, s, ""); !slices.Equal(names, []string{"d/2"}) {
			t.Fatalf("List after Delete = %q, want [d/2]", names)
		}
		if got := storeGet(t, s, "d/2"); string(got) != "two" {
			t.Fatalf("Get(d/2) = %q after deleting its sibling", got)
		}
		// A deleted name can be used again, also after its directory emptied.
		if err := s.Delete(ctx, "d/2"); err != nil {
			t.Fatal(err)
		}
		storePut(t, s, "d/2", []byte("again"))
		if got := storeGet(t, s, "d/2"); string(got) != "again" {
			t.Fatalf("Get(d/2) = %q after re-creating it", got)
		}
	})

	t.Run("List", func(t *testing.T) {
		s := newStore(t)
		all := []string{"a-c", "a/1", "a/2", "a/b/3", "ab/4", "b", "b0/c/d/5"}
		for i, n := range slices.Backward(all) { // put in reverse: List must sort
			storePut(t, s, n, []byte{byte(i)})
		}
		for _, tc := range []struct {
			name, prefix string
			want         []string
		}{
			{name: "everything", prefix: "", want: all},
			{name: "directory", prefix: "a/", want: []string{"a/1", "a/2", "a/b/3"}},
			{name: "partial segment", prefix: "a", want: []string{"a-c", "a/1", "a/2", "a/b/3", "ab/4"}},
			{name: "nested directory", prefix: "a/b/", want: []string{"a/b/3"}},
			{name: "partial nested", prefix: "b0/c/d/", want: []string{"b0/c/d/5"}},
			{name: "exact name", prefix: "b", want: []string{"b", "b0/c/d/5"}},
			{name: "no match", prefix: "zzz", want: nil},
			{name: "no match below an object", prefix: "b/", want: nil},
			{name: "no match in missing directory", prefix: "q/r/", want: nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := storeList(t, s, tc.prefix)
				if len(got) == 0 && len(tc.want) == 0 {
					return
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
				}
			})
		}
	})

	t.Run("LargeObject", func(t *testing.T) {
		s := newStore(t)
		data := make([]byte, storeLargeObjectBytes)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		// Short reads: the store must not assume that one Read fills its buffer.
		if err := s.Put(ctx, "big/object", &storeShortReader{r: bytes.NewReader(data), max: 4093}); err != nil {
			t.Fatalf("Put of %d bytes: %v", len(data), err)
		}
		got := storeGet(t, s, "big/object")
		if len(got) != len(data) || sha256.Sum256(got) != sha256.Sum256(data) {
			t.Fatalf("Get returned %d bytes that differ from the %d put", len(got), len(data))
		}
	})

	t.Run("ConcurrentPuts", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		errs := make(chan error, storeConcurrentPutters*storeObjectsPerPutter)
		var want []string
		for g := range storeConcurrentPutters {
			for i := range storeObjectsPerPutter {
				want = append(want, storeConcurrentName(g, i))
			}
			wg.Go(func() {
				for i := range storeObjectsPerPutter {
					name := storeConcurrentName(g, i)
					if err := s.Put(ctx, name, bytes.NewReader([]byte(name))); err != nil {
						errs <- fmt.Errorf("Put(%q): %w", name, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		slices.Sort(want)
		if got := storeList(t, s, "c/"); !slices.Equal(got, want) {
			t.Fatalf("List after concurrent Puts = %d names %q..., want %d", len(got), storeHead(got), len(want))
		}
		for _, name := range want {
			if got := storeGet(t, s, name); string(got) != name {
				t.Fatalf("Get(%q) = %q", name, got)
			}
		}
	})

	t.Run("ConcurrentOverwrites", func(t *testing.T) {
		// Put is atomic: whichever Put wins, the object is one whole version.
		s := newStore(t)
		versions := make([][]byte, storeConcurrentPutters)
		for i := range versions {
			versions[i] = bytes.Repeat([]byte{byte('a' + i)}, 64<<10+i)
		}
		var wg sync.WaitGroup
		for _, v := range versions {
			wg.Go(func() {
				if err := s.Put(ctx, "same", bytes.NewReader(v)); err != nil {
					t.Errorf("Put(same): %v", err)
				}
			})
		}
		wg.Wait()
		got := storeGet(t, s, "same")
		if !slices.ContainsFunc(versions, func(v []byte) bool { return bytes.Equal(v, got) }) {
			t.Fatalf("after concurrent Puts the object is %d bytes that match none of the versions put", len(got))
		}
		if names := storeList(t, s, ""); !slices.Equal(names, []string{"same"}) {
			t.Fatalf("List after concurrent Puts of one name = %q, want [same]", names)
		}
	})

	t.Run("FailedPut", func(t *testing.T) {
		s := newStore(t)
		storePut(t, s, "kept", []byte("old contents"))
		errReader := errors.New("reader failed on purpose")
		for _, tc := range []struct {
			name, obj string
			want      []byte // what Get must return afterwards; nil: ErrNotExist
		}{
			{name: "new object", obj: "new/object"},
			{name: "replacing an object", obj: "kept", want: []byte("old contents")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("partial "), 10_000)), storeErrReader{errReader})
				err := s.Put(ctx, tc.obj, r)
				if err == nil {
					t.Fatalf("Put(%q) with a failing reader succeeded", tc.obj)
				}
				if !errors.Is(err, errReader) {
					t.Logf("NB: Put's error does not wrap the reader's error: %v", err)
				}
				if tc.want == nil {
					if _, err := s.Get(ctx, tc.obj); !errors.Is(err, runtime.ErrNotExist) {
						t.Fatalf("Get after a failed Put = %v, want runtime.ErrNotExist", err)
					}
				} else if got := storeGet(t, s, tc.obj); !bytes.Equal(got, tc.want) {
					t.Fatalf("Get after a failed Put = %q, want the previous %q", got, tc.want)
				}
				if names := storeList(t, s, ""); !slices.Equal(names, []string{"kept"}) {
					t.Fatalf("List after a failed Put = %q, want only [kept]", names)
				}
			})
		}
	})

	t.Run("InvalidNames", func(t *testing.T) {
		// A store may accept any string as a name (an in-memory map does) or
		// validate names (a file system must). Either way a name must not be
		// rewritten: if a Put succeeds, the object is listed and read back under
		// exactly that name; if it fails, nothing appears.
		for _, tc := range []struct{ name, obj string }{
			{name: "empty", obj: ""},
			{name: "absolute", obj: "/abs"},
			{name: "trailing slash", obj: "dir/"},
			{name: "double slash", obj: "a//b"},
			{name: "dot dot", obj: "a/../b"},
			{name: "leading dot dot", obj: "../escape"},
			{name: "dot", obj: "./a"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				err := s.Put(ctx, tc.obj, bytes.NewReader([]byte("x")))
				names := storeList(t, s, "")
				if err != nil {
					if len(names) != 0 {
						t.Fatalf("rejected Put(%q) (%v) left %q", tc.obj, err, names)
					}
					if _, gerr := s.Get(ctx, tc.obj); gerr == nil {
						t.Fatalf("Get(%q) succeeded after Put rejected the name", tc.obj)
					}
					return
				}
				t.Logf("the store accepts the name %q", tc.obj)
				if !slices.Equal(names, []string{tc.obj}) {
					t.Fatalf("after Put(%q) List = %q, want exactly that name", tc.obj, names)
				}
				if got := storeGet(t, s, tc.obj); string(got) != "x" {
					t.Fatalf("Get(%q) = %q, want %q", tc.obj, got, "x")
				}
			})
		}
	})
}

// storeConcurrentName is the object put by putter g as its i-th.
func storeConcurrentName(g, i int) string { return fmt.Sprintf("c/%02d/%03d", g, i) }

// storePut puts data under name or fails the test.
func storePut(t *testing.T, s runtime.SnapshotStore, name string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), name, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%q): %v", name, err)
	}
}

// storeGet reads the whole of name or fails the test.
func storeGet(t *testing.T, s runtime.SnapshotStore, name string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", name, err)
	}
	return data
}

// storeList lists prefix or fails the test.
func storeList(t *testing.T, s runtime.SnapshotStore, prefix string) []string {
	t.Helper()
	names, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	if !slices.IsSorted(names) {
		t.Fatalf("List(%q) = %q is not sorted", prefix, names)
	}
	return names
}

// storeHead returns the first few of names, for messages.
func storeHead(names []string) []string { return names[:min(len(names), 5)] }

// storeShortReader returns at most max bytes per Read.
type storeShortReader struct {
	r   io.Reader
	max int
}

func (s *storeShortReader) Read(p []byte) (int, error) {
	return s.r.Read(p[:min(len(p), s.max)])
}

// storeErrReader fails every Read with err.
type storeErrReader struct{ err error }

func (e storeErrReader) Read([]byte) (int, error) { return 0, e.err }

package localfs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/conformance"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	conformance.TestSnapshotStore(t, func(t *testing.T) runtime.SnapshotStore { return newTestStore(t) })
}

func TestInvalidNamesAreRejected(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	for _, tc := range []struct{ name, obj string }{
		{name: "empty", obj: ""},
		{name: "absolute", obj: "/etc/passwd"},
		{name: "trailing slash", obj: "a/"},
		{name: "double slash", obj: "a//b"},
		{name: "dot dot", obj: "a/../../b"},
		{name: "dot", obj: "a/./b"},
		{name: "temporary prefix", obj: "a/" + tempPrefix + "x"},
		{name: "backslash", obj: `a\..\b`},
		{name: "nul", obj: "a\x00b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Put(ctx, tc.obj, strings.NewReader("x")); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Put(%q) = %v, want ErrInvalidName", tc.obj, err)
			}
			if _, err := s.Get(ctx, tc.obj); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Get(%q) = %v, want ErrInvalidName", tc.obj, err)
			}
			if err := s.Delete(ctx, tc.obj); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Delete(%q) = %v, want ErrInvalidName", tc.obj, err)
			}
			if err := s.Link(ctx, tc.obj, filepath.Join(t.TempDir(), "l")); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Link(%q) = %v, want ErrInvalidName", tc.obj, err)
			}
		})
	}
}

func TestFailedPutLeavesNoTemporaryFile(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := newTestStore(t)
	r := &cancelAfterFirstRead{cancel: cancel}
	if err := s.Put(ctx, "d/obj", r); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a context canceled mid-copy = %v, want context.Canceled", err)
	}
	entries, err := os.ReadDir(filepath.Join(s.Dir(), "d"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("directory d holds %d entries after a failed Put, want none", len(entries))
	}
}

type cancelAfterFirstRead struct{ cancel func() }

func (c *cancelAfterFirstRead) Read(p []byte) (int, error) {
	c.cancel()
	return copy(p, "some bytes"), nil
}

func TestListSkipsTemporaryFiles(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	if err := s.Put(ctx, "d/obj", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	// A crash during Put leaves a temporary file behind.
	if err := os.WriteFile(filepath.Join(s.Dir(), "d", tempPrefix+"123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	names, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "d/obj" {
		t.Fatalf("List = %q, want [d/obj]", names)
	}
}

func TestDeletePrunesEmptyDirectories(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	for _, n := range []string{"a/b/c/1", "a/x"} {
		if err := s.Put(ctx, n, strings.NewReader(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "a/b/c/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "a", "b")); !os.IsNotExist(err) {
		t.Fatalf("a/b still exists after deleting its only object: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "a", "x")); err != nil {
		t.Fatalf("sibling a/x: %v", err)
	}
	// Deleting a directory name is a no-op: directories are not objects.
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatalf("Delete of a directory name: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "a", "x")); err != nil {
		t.Fatalf("a/x after Delete(a): %v", err)
	}
}

func TestObjectAndDirectoryConflict(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	if err := s.Put(ctx, "a", strings.NewReader("file")); err != nil {
		t.Fatal(err)
	}
	err := s.Put(ctx, "a/b", strings.NewReader("below a file"))
	if err == nil || !strings.Contains(err.Error(), "cannot contain") {
		t.Fatalf("Put(a/b) with an object a = %v, want an error saying a cannot contain objects", err)
	}
}

func TestLink(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	if err := s.Put(ctx, "o/1", strings.NewReader("version 1")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "linked")
	if err := s.Link(ctx, "o/1", dst); err != nil {
		t.Fatalf("Link: %v", err)
	}
	// Replacing the object must not change the linked file.
	if err := s.Put(ctx, "o/1", strings.NewReader("version 2")); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, []byte("version 1")) {
		t.Fatalf("linked file = %q, %v; want %q", got, err, "version 1")
	}
	if err := s.Link(ctx, "o/missing", filepath.Join(t.TempDir(), "l")); !errors.Is(err, runtime.ErrNotExist) {
		t.Fatalf("Link of a missing object = %v, want runtime.ErrNotExist", err)
	}
	if err := s.Link(ctx, "o/1", dst); err == nil || errors.Is(err, runtime.ErrNotExist) {
		t.Fatalf("Link onto an existing file = %v, want an error that is not ErrNotExist", err)
	}
}

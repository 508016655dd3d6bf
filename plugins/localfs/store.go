package localfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/weirstream/weir/runtime"
)

// tempPrefix begins the name of every temporary file Put writes. List skips
// such files and object names may not contain a segment that begins with it.
const tempPrefix = ".weir-tmp-"

// copyBufferBytes is the size of the buffer Put copies an object through.
const copyBufferBytes = 256 << 10

// ErrInvalidName is wrapped by the errors of every method given an object name
// that is not a valid "/"-separated path (see the package documentation).
var ErrInvalidName = errors.New("invalid object name")

// Store is a runtime.SnapshotStore on a local directory. It is safe for
// concurrent use. Several Stores (or processes) may share a directory, with one
// exception: a Delete through one may remove a directory that became empty just
// as a Put through another creates it, and that Put then fails.
type Store struct {
	root string
	// dirs is held shared while Put creates a directory and its temporary file
	// in it, and exclusively while Delete removes directories that became empty,
	// so that Delete never removes a directory Put is about to write into.
	dirs sync.RWMutex
	// bufs recycles copy buffers of copyBufferBytes.
	bufs sync.Pool
}

var _ runtime.SnapshotStore = (*Store)(nil)

// New returns a Store that keeps its objects under dir, creating dir if absent.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("localfs: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("localfs: directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("localfs: create directory: %w", err)
	}
	s := &Store{root: abs}
	s.bufs.New = func() any { b := make([]byte, copyBufferBytes); return &b }
	return s, nil
}

// Dir returns the absolute path of the directory that holds the objects.
func (s *Store) Dir() string { return s.root }

// Put stores the whole of r under name, atomically and durably: it returns nil
// only once the object is on stable storage. If r fails or ctx ends first, it
// leaves no trace and an existing object of that name unchanged.
func (s *Store) Put(ctx context.Context, name string, r io.Reader) (err error) {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("localfs: put %q: %w", name, err)
	}
	dir := filepath.Dir(p)
	s.dirs.RLock()
	err = s.mkdirAll(dir)
	var f *os.File
	if err == nil {
		f, err = os.CreateTemp(dir, tempPrefix+"*")
	}
	s.dirs.RUnlock()
	if err != nil {
		return fmt.Errorf("localfs: put %q: %w", name, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close() // NB: may be the second Close; its error is irrelevant then
			_ = os.Remove(tmp)
			err = fmt.Errorf("localfs: put %q: %w", name, err)
		}
	}()
	buf := s.bufs.Get().(*[]byte)
	_, err = io.CopyBuffer(f, ctxReader{ctx: ctx, r: r}, *buf)
	s.bufs.Put(buf)
	if err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, p); err != nil {
		return err
	}
	return syncDir(dir)
}

// Get opens name for reading. A missing object gives an error that wraps
// runtime.ErrNotExist. The reader sees the object as it was when Get returned,
// even if it is replaced or deleted while it is read.
func (s *Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("localfs: get %q: %w", name, err)
	}
	f, err := os.Open(p)
	if isNotExist(err) {
		return nil, fmt.Errorf("localfs: get %q: %w", name, runtime.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("localfs: get %q: %w", name, err)
	}
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("localfs: get %q: %w", name, err)
		}
		return nil, fmt.Errorf("localfs: get %q: %w", name, runtime.ErrNotExist)
	}
	return f, nil
}

// List returns the names of the objects that start with prefix, sorted. Any
// string is a valid prefix; one that no valid name can start with gives an
// empty list.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("localfs: list %q: %w", prefix, err)
	}
	start := s.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		// The part of prefix before its last "/" is whole segments of every
		// name that matches, so only that directory needs to be walked.
		if checkName(prefix[:i]) != nil {
			return nil, nil
		}
		start = filepath.Join(s.root, filepath.FromSlash(prefix[:i]))
	}
	var names []string
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if isNotExist(err) {
				return nil // removed while we walked, or no directory for prefix
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		if name := filepath.ToSlash(rel); strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("localfs: list %q: %w", prefix, err)
	}
	sort.Strings(names)
	return names, nil
}

// Delete removes name; a missing object is not an error. Directories left
// empty are removed too.
func (s *Store) Delete(ctx context.Context, name string) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("localfs: delete %q: %w", name, err)
	}
	fi, err := os.Lstat(p)
	if isNotExist(err) || (err == nil && fi.IsDir()) {
		return nil // a directory is not an object
	}
	if err != nil {
		return fmt.Errorf("localfs: delete %q: %w", name, err)
	}
	if err := os.Remove(p); err != nil && !isNotExist(err) {
		return fmt.Errorf("localfs: delete %q: %w", name, err)
	}
	s.pruneEmptyDirs(filepath.Dir(p))
	return nil
}

// Link makes dst a hard link to the object name, so that a caller on the same
// machine gets the object's bytes without copying them. dst must not exist and
// must be on the file system of the store, or Link fails and the caller should
// fall back to Get. The caller must treat dst as read-only, since it shares its
// data with the object; removing dst, or a later Put or Delete of name (which
// replace or unlink the file, never write into it), does not affect the other.
// A missing object gives an error that wraps runtime.ErrNotExist.
func (s *Store) Link(ctx context.Context, name, dst string) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("localfs: link %q: %w", name, err)
	}
	err = os.Link(p, dst)
	if isNotExist(err) {
		if _, statErr := os.Lstat(p); isNotExist(statErr) {
			return fmt.Errorf("localfs: link %q: %w", name, runtime.ErrNotExist)
		}
	}
	if err != nil {
		return fmt.Errorf("localfs: link %q to %s: %w", name, dst, err)
	}
	return nil
}

// path validates name and returns its file path.
func (s *Store) path(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("localfs: %w %q: %s", ErrInvalidName, name, err)
	}
	return filepath.Join(s.root, filepath.FromSlash(name)), nil
}

// checkName reports why name is not a valid object name, or nil.
func checkName(name string) error {
	if name == "" {
		return errors.New("empty")
	}
	if strings.ContainsAny(name, "\x00\\") {
		return errors.New(`contains NUL or "\"`)
	}
	for seg := range strings.SplitSeq(name, "/") {
		switch {
		case seg == "":
			return errors.New("empty path segment (leading, trailing or double \"/\")")
		case seg == "." || seg == "..":
			return fmt.Errorf("path segment %q", seg)
		case strings.HasPrefix(seg, tempPrefix):
			return fmt.Errorf("path segment begins with the reserved %q", tempPrefix)
		}
	}
	return nil
}

// mkdirAll creates dir and its missing parents below the root, fsyncing the
// parent of every directory it creates so that the new path is durable.
func (s *Store) mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	rel, err := filepath.Rel(s.root, dir)
	if err != nil {
		return err
	}
	cur := s.root
	for seg := range strings.SplitSeq(rel, string(filepath.Separator)) {
		next := filepath.Join(cur, seg)
		switch err := os.Mkdir(next, 0o755); {
		case err == nil:
			if err := syncDir(cur); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
			if fi, err := os.Stat(next); err != nil || !fi.IsDir() {
				relNext, _ := filepath.Rel(s.root, next)
				return fmt.Errorf("%q is an object, so it cannot contain other objects", filepath.ToSlash(relNext))
			}
		default:
			return err
		}
		cur = next
	}
	return nil
}

// pruneEmptyDirs removes dir and its parents below the root while they are empty.
func (s *Store) pruneEmptyDirs(dir string) {
	s.dirs.Lock()
	defer s.dirs.Unlock()
	for dir != s.root && strings.HasPrefix(dir, s.root) {
		if os.Remove(dir) != nil {
			return // not empty, or gone: either way we are done
		}
		dir = filepath.Dir(dir)
	}
}

// syncDir fsyncs a directory, making the creation, rename or removal of its
// entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// isNotExist reports whether err says a path does not exist, including because
// one of its parents is a file.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// ctxReader is a reader that fails once its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

package memory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/weirstream/weir/runtime"
)

// Store is an in-memory runtime.SnapshotStore. It is safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	objects map[string][]byte
	puts    int
}

// NewStore returns an empty Store.
func NewStore() *Store { return &Store{objects: map[string][]byte{}} }

var _ runtime.SnapshotStore = (*Store)(nil)

// Put stores a copy of everything r yields; a failing reader stores nothing.
func (s *Store) Put(ctx context.Context, name string, r io.Reader) error {
	if err := validName(name); err != nil {
		return err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[name] = data
	s.puts++
	return nil
}

// Get returns a reader over a copy of the object.
func (s *Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.objects[name]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", name, runtime.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(data))), nil
}

// List returns the sorted names with prefix.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.objects {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Delete removes name if present.
func (s *Store) Delete(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, name)
	return nil
}

// Mutate lets a test change (corrupt) or drop an object: f gets the current bytes
// and returns the new ones, or nil to delete it. It reports whether name existed.
func (s *Store) Mutate(name string, f func([]byte) []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.objects[name]
	if !ok {
		return false
	}
	if nd := f(bytes.Clone(data)); nd == nil {
		delete(s.objects, name)
	} else {
		s.objects[name] = nd
	}
	return true
}

// Puts returns how many Put calls succeeded.
func (s *Store) Puts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

func validName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return fmt.Errorf("invalid object name %q", name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("invalid object name %q: empty, . or .. segment", name)
		}
	}
	return nil
}

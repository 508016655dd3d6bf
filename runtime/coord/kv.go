package coord

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// KV is the store the coordination runs on: values under keys, each with a
// revision that changes on every write, and writes conditional on it. It is
// what the cluster needs of NATS JetStream KV (or etcd, or a database) and no
// more. Implementations are safe for concurrent use.
//
// INVARIANT: a key's revision strictly increases with every write to it, even
// across a delete and a re-create, and is never 0.
type KV interface {
	// Get returns key's value and revision. A missing (or deleted) key gives
	// an error that wraps ErrKeyNotFound.
	Get(ctx context.Context, key string) (Entry, error)
	// Create stores value under key if the key is missing (or deleted) and
	// returns the new revision; otherwise it fails with ErrConflict.
	Create(ctx context.Context, key string, value []byte) (uint64, error)
	// Update stores value under key if key's revision is rev and returns the
	// new revision; otherwise (changed, deleted, missing) ErrConflict.
	Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)
	// Delete removes key if its revision is rev; otherwise ErrConflict.
	Delete(ctx context.Context, key string, rev uint64) error
	// Keys lists the keys that start with prefix, sorted.
	Keys(ctx context.Context, prefix string) ([]string, error)
}

// Entry is a value with its revision.
type Entry struct {
	Value    []byte
	Revision uint64
}

var (
	// ErrKeyNotFound is wrapped by KV.Get for a missing or deleted key.
	ErrKeyNotFound = errors.New("coord: key not found")
	// ErrConflict is wrapped by a conditional write whose condition no
	// longer holds: someone else wrote first. Read again and decide again.
	ErrConflict = errors.New("coord: revision conflict")
)

// idRE is what a job, TaskManager or candidate id must match to become part
// of a key.
var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func checkID(kind, id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("coord: %s id %q: want 1-64 of a-z A-Z 0-9 _ -", kind, id)
	}
	return nil
}

// MemKV is the in-memory twin of a KV bucket: one revision sequence for
// the whole store, like a JetStream stream. Its zero value is ready to use;
// it is safe for concurrent use.
type MemKV struct {
	mu   sync.Mutex
	seq  uint64
	data map[string]Entry
}

var _ KV = (*MemKV)(nil)

// Get implements KV.
func (m *MemKV) Get(ctx context.Context, key string) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.data[key]
	if !ok {
		return Entry{}, fmt.Errorf("get %s: %w", key, ErrKeyNotFound)
	}
	return Entry{Value: slices.Clone(e.Value), Revision: e.Revision}, nil
}

// Create implements KV.
func (m *MemKV) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[key]; ok {
		return 0, fmt.Errorf("create %s: %w", key, ErrConflict)
	}
	return m.put(key, value), nil
}

// Update implements KV.
func (m *MemKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.data[key]; !ok || e.Revision != rev {
		return 0, fmt.Errorf("update %s at revision %d: %w", key, rev, ErrConflict)
	}
	return m.put(key, value), nil
}

// Delete implements KV.
func (m *MemKV) Delete(ctx context.Context, key string, rev uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.data[key]; !ok || e.Revision != rev {
		return fmt.Errorf("delete %s at revision %d: %w", key, rev, ErrConflict)
	}
	m.seq++ // a delete is a write: revisions never repeat
	delete(m.data, key)
	return nil
}

// Keys implements KV.
func (m *MemKV) Keys(ctx context.Context, prefix string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k := range m.data {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func (m *MemKV) put(key string, value []byte) uint64 {
	if m.data == nil {
		m.data = map[string]Entry{}
	}
	m.seq++
	m.data[key] = Entry{Value: slices.Clone(value), Revision: m.seq}
	return m.seq
}

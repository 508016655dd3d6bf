package memory

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/weirstream/weir/runtime"
)

// StateFactory opens in-memory state backends. A checkpoint is one object in the
// snapshot store: the sorted pairs, named by their SHA-256.
type StateFactory struct{}

var _ runtime.StateBackendFactory = StateFactory{}

// Name returns "memory".
func (StateFactory) Name() string { return "memory" }

// Open returns an empty backend, or one restored from cfg.Restore.
func (StateFactory) Open(ctx context.Context, cfg runtime.BackendConfig) (runtime.StateBackend, error) {
	b := &Backend{kgs: cfg.KeyGroups, store: cfg.Store, prefix: cfg.Prefix}
	for _, h := range cfg.Restore {
		if h.Backend != "memory" {
			return nil, fmt.Errorf("memory state backend cannot restore a %q handle", h.Backend)
		}
		if !h.KeyGroups.Intersects(cfg.KeyGroups) {
			continue
		}
		for _, f := range h.Files {
			if err := b.load(ctx, f); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

// Backend is an in-memory runtime.StateBackend: a sorted slice of pairs.
type Backend struct {
	kgs    runtime.KeyGroupRange
	store  runtime.SnapshotStore
	prefix string
	keys   [][]byte
	vals   [][]byte
}

func (b *Backend) find(key []byte) (int, bool) {
	i := sort.Search(len(b.keys), func(i int) bool { return bytes.Compare(b.keys[i], key) >= 0 })
	return i, i < len(b.keys) && bytes.Equal(b.keys[i], key)
}

// Get returns the value of key.
func (b *Backend) Get(key []byte) ([]byte, bool, error) {
	if i, ok := b.find(key); ok {
		return b.vals[i], true, nil
	}
	return nil, false, nil
}

// Set stores copies of key and value.
func (b *Backend) Set(key, value []byte) error {
	i, ok := b.find(key)
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{}
	}
	if ok {
		b.vals[i] = v
		return nil
	}
	b.keys = append(b.keys, nil)
	b.vals = append(b.vals, nil)
	copy(b.keys[i+1:], b.keys[i:])
	copy(b.vals[i+1:], b.vals[i:])
	b.keys[i], b.vals[i] = bytes.Clone(key), v
	return nil
}

// Delete removes key.
func (b *Backend) Delete(key []byte) error {
	if i, ok := b.find(key); ok {
		b.keys = append(b.keys[:i], b.keys[i+1:]...)
		b.vals = append(b.vals[:i], b.vals[i+1:]...)
	}
	return nil
}

// DeleteRange removes the keys in [start, end).
func (b *Backend) DeleteRange(start, end []byte) error {
	i, _ := b.find(start)
	j, _ := b.find(end)
	if j > i {
		b.keys = append(b.keys[:i], b.keys[j:]...)
		b.vals = append(b.vals[:i], b.vals[j:]...)
	}
	return nil
}

// Scan calls fn on the pairs in [start, end) in order.
func (b *Backend) Scan(start, end []byte, fn func(k, v []byte) bool) error {
	i, _ := b.find(start)
	for ; i < len(b.keys) && bytes.Compare(b.keys[i], end) < 0; i++ {
		if !fn(b.keys[i], b.vals[i]) {
			break
		}
	}
	return nil
}

// Checkpoint encodes the pairs now; the Upload stores them.
func (b *Backend) Checkpoint(ctx context.Context, id int64) (runtime.Upload, error) {
	var buf bytes.Buffer
	for i := range b.keys {
		for _, f := range [2][]byte{b.keys[i], b.vals[i]} {
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(f))))
			buf.Write(f)
		}
	}
	data := buf.Bytes()
	kgs, store, prefix := b.kgs, b.store, b.prefix
	return func(ctx context.Context) (runtime.StateHandle, error) {
		sum := sha256.Sum256(data)
		hexSum := hex.EncodeToString(sum[:])
		obj := prefix + "mem/" + hexSum
		if err := store.Put(ctx, obj, bytes.NewReader(data)); err != nil {
			return runtime.StateHandle{}, err
		}
		return runtime.StateHandle{Backend: "memory", KeyGroups: kgs, Files: []runtime.FileRef{{Name: "state", Object: obj, Size: int64(len(data)), SHA256: hexSum}}}, nil
	}, nil
}

func (b *Backend) load(ctx context.Context, f runtime.FileRef) error {
	rc, err := b.store.Get(ctx, f.Object)
	if err != nil {
		if errors.Is(err, runtime.ErrNotExist) {
			return fmt.Errorf("%w: %s is missing", runtime.ErrCorruptSnapshot, f.Object)
		}
		return err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != f.SHA256 {
		return fmt.Errorf("%w: %s fails its checksum", runtime.ErrCorruptSnapshot, f.Object)
	}
	for len(data) > 0 {
		var kv [2][]byte
		for i := range kv {
			if len(data) < 4 {
				return fmt.Errorf("%w: %s is truncated", runtime.ErrCorruptSnapshot, f.Object)
			}
			n := binary.BigEndian.Uint32(data)
			if uint64(n) > uint64(len(data)-4) {
				return fmt.Errorf("%w: %s is truncated", runtime.ErrCorruptSnapshot, f.Object)
			}
			kv[i], data = data[4:4+n], data[4+n:]
		}
		if len(kv[0]) >= 2 && b.kgs.Contains(runtime.KeyGroupOf(kv[0])) {
			if err := b.Set(kv[0], kv[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close drops the state.
func (b *Backend) Close() error {
	b.keys, b.vals = nil, nil
	return nil
}

// Len returns the number of pairs held.
func (b *Backend) Len() int { return len(b.keys) }

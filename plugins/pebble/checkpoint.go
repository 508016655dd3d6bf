package pebble

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/weirstream/weir/runtime"
)

// Object names under BackendConfig.Prefix (see the package documentation).
const (
	sharedObjectDir = "sst/"  // immutable files, shared by every checkpoint that has them
	metaObjectDir   = "meta/" // the other files, one copy per checkpoint
)

// Checkpoint captures the state as it is now: it writes the cache's dirty
// entries back, flushes Pebble's memtables so that all the state is in
// SSTables, and makes a Pebble checkpoint (hard links, no copying) in a
// directory of its own. Changes made after Checkpoint returns are not in the
// capture. The returned Upload may run on another goroutine while the backend
// keeps serving; it can run once.
func (b *backend) Checkpoint(ctx context.Context, checkpointID int64) (runtime.Upload, error) {
	if b.closed {
		return nil, errClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pebble: checkpoint %d: %w", checkpointID, err)
	}
	if err := b.writeBack(); err != nil {
		return nil, fmt.Errorf("pebble: checkpoint %d: %w", checkpointID, err)
	}
	if err := b.db.Flush(); err != nil {
		return nil, fmt.Errorf("pebble: checkpoint %d: flush: %w", checkpointID, err)
	}
	b.checkpoints++
	seq := b.checkpoints
	dir := filepath.Join(b.checkpointsDir, fmt.Sprintf("%d-%d", checkpointID, seq))
	// NB: WithFlushedWAL does nothing without a WAL; it is here so that the
	// capture stays complete if the WAL is ever turned on.
	if err := b.db.Checkpoint(dir, pebbledb.WithFlushedWAL()); err != nil {
		return nil, fmt.Errorf("pebble: checkpoint %d: %w", checkpointID, err)
	}
	p := &pendingUpload{b: b, id: checkpointID, seq: seq, dir: dir}
	return p.run, nil
}

// pendingUpload is a local checkpoint waiting to be uploaded.
type pendingUpload struct {
	b       *backend
	id      int64
	seq     int
	dir     string
	started atomic.Bool
}

// run uploads the checkpoint in p.dir: an immutable file already in the store
// is not copied again, a new one is uploaded under a name of its own, and the
// small mutable files (MANIFEST, OPTIONS, markers) are uploaded under names of
// this checkpoint. It removes p.dir when it is done, whatever the outcome.
func (p *pendingUpload) run(ctx context.Context) (runtime.StateHandle, error) {
	b := p.b
	if p.started.Swap(true) {
		return runtime.StateHandle{}, fmt.Errorf("pebble: upload of checkpoint %d already ran", p.id)
	}
	b.mu.Lock()
	if b.stop.Err() != nil {
		b.mu.Unlock()
		return runtime.StateHandle{}, fmt.Errorf("upload of checkpoint %d: %w", p.id, errClosed)
	}
	b.uploads.Add(1)
	b.mu.Unlock()
	defer b.uploads.Done()
	defer func() { _ = os.RemoveAll(p.dir) }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(b.stop, cancel)() // Close cancels the upload

	entries, err := os.ReadDir(p.dir) // sorted by name
	if err != nil {
		return runtime.StateHandle{}, fmt.Errorf("pebble: upload of checkpoint %d: %w", p.id, err)
	}
	files := make([]runtime.FileRef, 0, len(entries))
	var added []runtime.FileRef
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(p.dir, name)
		if !isImmutable(name) {
			object := fmt.Sprintf("%s%s%s/%d-%d/%s", b.cfg.Prefix, metaObjectDir, b.token, p.id, p.seq, name)
			ref, err := uploadFile(ctx, b.cfg.Store, path, name, object)
			if err != nil {
				return runtime.StateHandle{}, fmt.Errorf("pebble: upload of checkpoint %d: %w", p.id, err)
			}
			files = append(files, ref)
			continue
		}
		b.mu.Lock()
		ref, ok := b.uploaded[name]
		b.mu.Unlock()
		if ok {
			// INVARIANT: Pebble never rewrites a file and never reuses a file
			// number, so a name in uploaded is the same bytes as in the store.
			if info, err := e.Info(); err != nil || info.Size() != ref.Size {
				panic(fmt.Sprintf("pebble: immutable file %s changed size since it was uploaded as %s", name, ref.Object))
			}
			files = append(files, ref)
			continue
		}
		object := b.cfg.Prefix + sharedObjectDir + b.token + "-" + name
		if ref, err = uploadFile(ctx, b.cfg.Store, path, name, object); err != nil {
			return runtime.StateHandle{}, fmt.Errorf("pebble: upload of checkpoint %d: %w", p.id, err)
		}
		added = append(added, ref)
		files = append(files, ref)
	}

	// Remember only files of a successful upload: the objects of a failed one
	// are orphans the runtime may sweep. Forget the files Pebble has deleted
	// since: it never brings a file number back.
	live := make(map[string]bool, len(files))
	for _, f := range files {
		live[f.Name] = true
	}
	b.mu.Lock()
	for name := range b.uploaded {
		if !live[name] {
			delete(b.uploaded, name)
		}
	}
	for _, f := range added {
		b.uploaded[f.Name] = f
	}
	b.mu.Unlock()
	return runtime.StateHandle{Backend: Name, KeyGroups: b.cfg.KeyGroups, Files: files}, nil
}

// uploadFile copies the local file path to object, computing its SHA-256 on
// the way, and returns its FileRef.
func uploadFile(ctx context.Context, store runtime.SnapshotStore, path, name, object string) (runtime.FileRef, error) {
	f, err := os.Open(path)
	if err != nil {
		return runtime.FileRef{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return runtime.FileRef{}, err
	}
	h := sha256.New()
	r := &countingReader{r: io.TeeReader(f, h)}
	if err := store.Put(ctx, object, r); err != nil {
		return runtime.FileRef{}, fmt.Errorf("put %s as %q: %w", name, object, err)
	}
	if r.n != info.Size() {
		// The store returned before reading all of it: what it stored is short.
		return runtime.FileRef{}, fmt.Errorf("put %s as %q: the store read %d of its %d bytes", name, object, r.n, info.Size())
	}
	return runtime.FileRef{Name: name, Object: object, Size: r.n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// isImmutable reports whether a file of a Pebble directory is never changed
// once written (SSTables and blob files), so that its object can be shared by
// every checkpoint that contains it.
func isImmutable(name string) bool {
	return strings.HasSuffix(name, ".sst") || strings.HasSuffix(name, ".blob")
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

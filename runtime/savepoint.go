package runtime

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path/filepath"
)

// A savepoint is a portable, self-contained copy of one complete checkpoint: the
// keyed state of every operator subtask as a sorted stream of key/value pairs
// (independent of the state backend's file format), the positions of every
// source split, and no sink committables (the checkpoint it was made from was
// already committed). It lives in a SnapshotStore of its own, usually a
// directory the user names, and a job can start from it with any parallelism.
//
// Layout:
//
//	SAVEPOINT                       the manifest (same format as a checkpoint's)
//	state/<operator>/<subtask>.kv   one state stream per operator subtask
//
// A state stream is "WEIRKV1\n" followed by pairs (u32 key length, key, u32
// value length, value; big-endian lengths) in ascending key order. Its SHA-256
// is in the manifest.

// SavepointManifest is the object name of a savepoint's manifest.
const SavepointManifest = savepointManifest

const (
	savepointManifest = "SAVEPOINT"
	savepointBackend  = "savepoint"
	kvMagic           = "WEIRKV1\n"
	// maxKVFieldBytes bounds one key or value read from a state stream.
	maxKVFieldBytes = 64 << 20
)

// LatestCheckpoint returns the newest complete checkpoint in store whose manifest
// reads back intact.
func LatestCheckpoint(ctx context.Context, store SnapshotStore) (*Manifest, error) {
	ids, _, err := listCheckpoints(ctx, store)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		m, err := ReadManifest(ctx, store, manifestObject(id))
		if err == nil {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: the snapshot store holds no complete checkpoint", errNoCheckpoint)
}

// WriteSavepoint copies checkpoint m from src into dst as a savepoint. state
// opens the checkpoint's state (the backend that wrote it) in scratch
// directories under workDir.
func WriteSavepoint(ctx context.Context, m *Manifest, src SnapshotStore, state StateBackendFactory, workDir string, dst SnapshotStore) error {
	out := *m
	out.Operators = map[string]*OperatorSnap{}
	out.Sinks = map[string]*SinkSnapshot{}
	for name, op := range m.Operators {
		snap := &OperatorSnap{Parallelism: op.Parallelism}
		for i, h := range op.State {
			if h.Backend == "" && len(h.Files) == 0 {
				continue // a subtask with no state handle (stateless operator)
			}
			obj := fmt.Sprintf("%s%s/%d.kv", statePrefix, name, i)
			ref, err := exportState(ctx, h, src, state, filepath.Join(workDir, fmt.Sprintf("savepoint-%s-%d", name, i)), dst, obj)
			if err != nil {
				return fmt.Errorf("savepoint of operator %q subtask %d: %w", name, i, err)
			}
			snap.State = append(snap.State, StateHandle{Backend: savepointBackend, KeyGroups: h.KeyGroups, Files: []FileRef{ref}})
		}
		out.Operators[name] = snap
	}
	// The DLQ goes along as one base segment: a savepoint is self-contained.
	if m.DLQ != nil {
		l, err := loadDLQ(ctx, src, m)
		if err != nil {
			return fmt.Errorf("savepoint of the dead-letter queue: %w", err)
		}
		seg := &dlqSegment{Format: dlqSegmentFormat, Checkpoint: m.Checkpoint, Base: true, Entries: l.sorted(), Actions: l.audit}
		if err := writeDLQSegment(ctx, dst, seg); err != nil {
			return fmt.Errorf("savepoint of the dead-letter queue: %w", err)
		}
		out.DLQ = &DLQRef{Segments: []string{dlqSegmentObject(m.Checkpoint)}, NextID: m.DLQ.NextID}
	}
	return writeManifest(ctx, dst, savepointManifest, &out)
}

func exportState(ctx context.Context, h StateHandle, src SnapshotStore, state StateBackendFactory, dir string, dst SnapshotStore, obj string) (FileRef, error) {
	if state == nil {
		return FileRef{}, errors.New("no state backend to read the checkpoint with")
	}
	b, err := state.Open(ctx, BackendConfig{Dir: dir, KeyGroups: h.KeyGroups, Restore: []StateHandle{h}, Store: src, Prefix: statePrefix})
	if err != nil {
		return FileRef{}, err
	}
	defer b.Close()
	pr, pw := io.Pipe()
	sum := sha256.New()
	counter := &countWriter{}
	go func() {
		w := bufio.NewWriterSize(io.MultiWriter(pw, sum, counter), 1<<20)
		_, err := w.WriteString(kvMagic)
		var lenBuf [4]byte
		if err == nil {
			start, end := KeyGroupRangeBounds(h.KeyGroups)
			err = b.Scan(start, end, func(k, v []byte) bool {
				for _, f := range [2][]byte{k, v} {
					binary.BigEndian.PutUint32(lenBuf[:], uint32(len(f)))
					if _, err = w.Write(lenBuf[:]); err != nil {
						return false
					}
					if _, err = w.Write(f); err != nil {
						return false
					}
				}
				return true
			})
		}
		if err == nil {
			err = w.Flush()
		}
		pw.CloseWithError(err)
	}()
	if err := dst.Put(ctx, obj, pr); err != nil {
		pr.CloseWithError(err)
		return FileRef{}, fmt.Errorf("write %s: %w", obj, err)
	}
	return FileRef{Name: filepath.Base(obj), Object: obj, Size: counter.n, SHA256: hex.EncodeToString(sum.Sum(nil))}, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// loadSavepointState writes into b the pairs of the savepoint state streams in
// handles whose key group is in kgs.
func loadSavepointState(ctx context.Context, store SnapshotStore, handles []StateHandle, kgs KeyGroupRange, b StateBackend) error {
	for _, h := range handles {
		for _, f := range h.Files {
			if err := loadKV(ctx, store, f, kgs, b); err != nil {
				return err
			}
		}
	}
	return nil
}

func loadKV(ctx context.Context, store SnapshotStore, f FileRef, kgs KeyGroupRange, b StateBackend) error {
	rc, err := store.Get(ctx, f.Object)
	if err != nil {
		if errors.Is(err, ErrNotExist) {
			return fmt.Errorf("%w: savepoint object %s is missing", ErrCorruptSnapshot, f.Object)
		}
		return err
	}
	defer rc.Close()
	sum := sha256.New()
	r := &hashReader{r: bufio.NewReaderSize(rc, 1<<20), h: sum}
	magic := make([]byte, len(kvMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != kvMagic {
		return fmt.Errorf("%w: %s: not a savepoint state stream", ErrCorruptSnapshot, f.Object)
	}
	var k, v []byte
	for {
		k, err = readField(r, k)
		if err == io.EOF {
			break
		}
		if err == nil {
			v, err = readField(r, v)
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrCorruptSnapshot, f.Object, err)
		}
		if len(k) < 2 {
			return fmt.Errorf("%w: %s: a key of %d bytes has no key group", ErrCorruptSnapshot, f.Object, len(k))
		}
		if kgs.Contains(KeyGroupOf(k)) {
			if err := b.Set(k, v); err != nil {
				return err
			}
		}
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%w: %s: SHA-256 %s, manifest says %s", ErrCorruptSnapshot, f.Object, got, f.SHA256)
	}
	return nil
}

func readField(r io.Reader, buf []byte) ([]byte, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("truncated length: %w", err)
	}
	n := binary.BigEndian.Uint32(lenBuf[:])
	if n > maxKVFieldBytes {
		return nil, fmt.Errorf("a field of %d bytes is over the limit of %d", n, maxKVFieldBytes)
	}
	if uint32(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("truncated field: %w", err)
	}
	return buf, nil
}

type hashReader struct {
	r io.Reader
	h hash.Hash
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

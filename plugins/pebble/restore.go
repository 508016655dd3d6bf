package pebble

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/weirstream/weir/runtime"
)

// linker is implemented by snapshot stores on the local file system (localfs)
// that can hard link an object instead of copying it.
type linker interface {
	Link(ctx context.Context, name, dst string) error
}

// restoreRanges copies into b.db the entries of every handle in b.cfg.Restore
// whose key groups intersect b.cfg.KeyGroups, restricted to the intersection.
// Each such handle is downloaded into a temporary directory and opened read-only.
func (b *backend) restoreRanges(ctx context.Context) error {
	type part struct {
		handle int
		groups runtime.KeyGroupRange
	}
	var parts []part
	for i, h := range b.cfg.Restore {
		r := intersect(h.KeyGroups, b.cfg.KeyGroups)
		if !r.Empty() {
			parts = append(parts, part{handle: i, groups: r})
		}
	}
	slices.SortFunc(parts, func(a, b part) int { return a.groups.First - b.groups.First })
	for i := 1; i < len(parts); i++ {
		if parts[i].groups.First <= parts[i-1].groups.Last {
			return fmt.Errorf("pebble: restore: handles %d and %d both hold key groups from %d",
				parts[i-1].handle, parts[i].handle, parts[i].groups.First)
		}
	}
	restoreDir := filepath.Join(b.cfg.Dir, restoreDirName)
	defer func() { _ = os.RemoveAll(restoreDir) }()
	for _, p := range parts {
		h := b.cfg.Restore[p.handle]
		dir := filepath.Join(restoreDir, strconv.Itoa(p.handle))
		if err := b.download(ctx, h, dir); err != nil {
			return err
		}
		n, err := b.copyRange(ctx, dir, p.groups)
		if err != nil {
			return fmt.Errorf("pebble: restore key groups %d..%d from handle %d: %w", p.groups.First, p.groups.Last, p.handle, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("pebble: restore: %w", err)
		}
		b.log.Debug("restored key groups", "first", p.groups.First, "last", p.groups.Last, "handle", p.handle, "entries", n)
	}
	return nil
}

// copyRange copies the entries of key groups r from the database in dir to b.db
// and returns how many it copied.
func (b *backend) copyRange(ctx context.Context, dir string, r runtime.KeyGroupRange) (n int, err error) {
	src, err := pebbledb.Open(dir, dbOptions(b.log, true))
	if err != nil {
		return 0, fmt.Errorf("open downloaded checkpoint: %w", err)
	}
	defer func() { err = errors.Join(err, src.Close()) }()
	start, end := runtime.KeyGroupRangeBounds(r)
	it, err := src.NewIter(&pebbledb.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	batch := b.db.NewBatch()
	defer func() { _ = batch.Close() }()
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return n, err
		}
		_ = batch.Set(it.Key(), v, nil) // NB: a Batch only fails writes after Close
		n++
		if batch.Len() >= restoreBatchBytes {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			if err := batch.Commit(pebbledb.NoSync); err != nil {
				return n, err
			}
			_ = batch.Close()
			batch = b.db.NewBatch()
		}
	}
	if batch.Empty() {
		return n, nil
	}
	return n, batch.Commit(pebbledb.NoSync)
}

// download fetches every file of h into dir (created), checking each file's
// size and SHA-256 against h. A missing object, or one that fails its check,
// gives an error that wraps runtime.ErrCorruptSnapshot and names the object.
func (b *backend) download(ctx context.Context, h runtime.StateHandle, dir string) error {
	if err := checkHandle(h); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pebble: restore: %w", err)
	}
	link, canLink := b.cfg.Store.(linker)
	for _, f := range h.Files {
		dst := filepath.Join(dir, f.Name)
		if canLink && isImmutable(f.Name) {
			// An immutable file may share its bytes with the object: Pebble never
			// writes into an SSTable, and a store replaces objects, never edits them.
			err := link.Link(ctx, f.Object, dst)
			if err == nil {
				if err := verifyLocal(dst, f); err != nil {
					return err
				}
				continue
			}
			if errors.Is(err, runtime.ErrNotExist) {
				return errMissing(f, err)
			}
			b.log.Debug("cannot link snapshot object, copying it", "object", f.Object, "err", err)
			_ = os.Remove(dst)
		}
		if err := fetch(ctx, b.cfg.Store, f, dst); err != nil {
			return err
		}
	}
	return nil
}

// fetch copies the object of f to the new file dst, checking its size and
// SHA-256.
func fetch(ctx context.Context, store runtime.SnapshotStore, f runtime.FileRef, dst string) error {
	rc, err := store.Get(ctx, f.Object)
	if errors.Is(err, runtime.ErrNotExist) {
		return errMissing(f, err)
	}
	if err != nil {
		return fmt.Errorf("pebble: restore %s: %w", f.Name, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("pebble: restore %s: %w", f.Name, err)
	}
	h := sha256.New()
	// Reading one byte more than expected tells a long object from a right one
	// without reading an unbounded stream.
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(rc, f.Size+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pebble: restore %s from %q: %w", f.Name, f.Object, err)
	}
	return checkSum(f, n, h.Sum(nil))
}

// verifyLocal checks the size and SHA-256 of the local file path against f.
func verifyLocal(path string, f runtime.FileRef) error {
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("pebble: restore %s: %w", f.Name, err)
	}
	defer in.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(in, f.Size+1))
	if err != nil {
		return fmt.Errorf("pebble: restore %s: %w", f.Name, err)
	}
	return checkSum(f, n, h.Sum(nil))
}

// checkSum compares what was read of f's object with f.
func checkSum(f runtime.FileRef, n int64, sum []byte) error {
	if n != f.Size {
		if n > f.Size {
			return errCorrupt("object %q (file %s) is longer than its %d bytes", f.Object, f.Name, f.Size)
		}
		return errCorrupt("object %q (file %s) has %d bytes, want %d", f.Object, f.Name, n, f.Size)
	}
	if got := hex.EncodeToString(sum); got != f.SHA256 {
		return errCorrupt("object %q (file %s) fails its SHA-256 check: %s, want %s", f.Object, f.Name, got, f.SHA256)
	}
	return nil
}

// checkHandle rejects a handle whose file list could not have come from
// Checkpoint: names that are not plain file names, duplicates, bad checksums.
func checkHandle(h runtime.StateHandle) error {
	seen := make(map[string]bool, len(h.Files))
	for _, f := range h.Files {
		switch {
		case f.Name == "" || f.Name == "." || f.Name == ".." || strings.ContainsAny(f.Name, `/\`):
			return errCorrupt("handle lists file name %q, which is not a plain file name", f.Name)
		case seen[f.Name]:
			return errCorrupt("handle lists file %s twice", f.Name)
		case f.Size < 0 || len(f.SHA256) != 2*sha256.Size:
			return errCorrupt("handle lists file %s with size %d and SHA-256 %q", f.Name, f.Size, f.SHA256)
		}
		seen[f.Name] = true
	}
	return nil
}

// intersect returns the key groups in both a and b (empty if none).
func intersect(a, b runtime.KeyGroupRange) runtime.KeyGroupRange {
	return runtime.KeyGroupRange{First: max(a.First, b.First), Last: min(a.Last, b.Last)}
}

// errCorrupt returns an error about snapshot data that wraps
// runtime.ErrCorruptSnapshot.
func errCorrupt(format string, args ...any) error {
	return fmt.Errorf("pebble: restore: %s: %w", fmt.Sprintf(format, args...), runtime.ErrCorruptSnapshot)
}

// errMissing returns the error about the missing object of f, wrapping both
// runtime.ErrCorruptSnapshot and the store's err.
func errMissing(f runtime.FileRef, err error) error {
	return fmt.Errorf("pebble: restore: object %q (file %s) is missing: %w: %w", f.Object, f.Name, runtime.ErrCorruptSnapshot, err)
}

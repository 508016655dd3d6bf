package pebble

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/weirstream/weir/runtime"
)

// Name is the name of this backend in runtime.StateHandle.Backend.
const Name = "pebble"

// Bounds of Pebble's own memory and work for one subtask. The state cache
// (DefaultCacheBytes) comes on top.
const (
	// memTableBytes is the size of one Pebble memtable. Larger memtables mean
	// fewer, larger L0 tables, hence less compaction work per byte written
	// back from the state cache (which writes back random keys).
	memTableBytes = 16 << 20
	// maxMemTables is how many memtables (one being written, the others
	// waiting to be flushed) may exist before writes stall.
	maxMemTables = 3
	// blockCacheBytes bounds Pebble's memory: its cache of SSTable blocks
	// (data, index and filter blocks), which serves reads that miss the state
	// cache, and the memtables.
	// NB: Pebble reserves the memtables' memory inside the block cache, so the
	// blocks get what the memtables leave: blockCacheBytes - maxMemTables *
	// memTableBytes at worst, usually twice that. A block cache no larger than
	// the memtables caches nothing, and every read that misses the state cache
	// goes to disk.
	blockCacheBytes = 64 << 20
	// bloomBitsPerKey sizes the Bloom filter of every SSTable (about 1% false
	// positives): a Get that misses the state cache, most often for a key that
	// does not exist yet, then skips the data blocks of the tables without it.
	bloomBitsPerKey = 10
	// restoreBatchBytes is how many bytes of entries a rescaling restore copies
	// into the new database per batch.
	restoreBatchBytes = 4 << 20
	// maxPointDeletesPerRange: a DeleteRange that finds at most this many keys
	// deletes them one by one; more become a single range tombstone. Point
	// deletes keep the frequent small ranges (clearing one key's map state)
	// from piling up range tombstones, which slow down every later read.
	maxPointDeletesPerRange = 64
)

// Directories under BackendConfig.Dir.
const (
	dbDirName          = "db"          // the live database
	checkpointsDirName = "checkpoints" // one directory per checkpoint not yet uploaded
	restoreDirName     = "restore"     // handles downloaded for a rescaling restore
)

// errClosed is returned by a backend that was closed.
var errClosed = errors.New("pebble: state backend is closed")

// Factory opens Pebble state backends. The zero value is ready to use.
type Factory struct{}

var _ runtime.StateBackendFactory = Factory{}

// Name returns "pebble".
func (Factory) Name() string { return Name }

// Open creates the state of one subtask in cfg.Dir (see the package
// documentation), restoring cfg.Restore if it is not empty. cfg.Store is
// required. A restore file that is missing or fails its size or SHA-256 check
// gives an error that wraps runtime.ErrCorruptSnapshot and names the object.
func (Factory) Open(ctx context.Context, cfg runtime.BackendConfig) (runtime.StateBackend, error) {
	b, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// backend is one subtask's state: a Pebble database behind a write-back cache.
// Everything but the uploads runs on the subtask's goroutine.
type backend struct {
	cfg            runtime.BackendConfig
	log            *slog.Logger
	db             *pebbledb.DB
	cache          *cache
	dbDir          string
	checkpointsDir string
	// token is random and new on every Open: it makes the names of the objects
	// this instance uploads unique across subtasks, restores and rescales.
	token       string
	checkpoints int // checkpoints taken so far; numbers their local directories
	closed      bool
	// getOptions are the options of the iterator that serves a Get that
	// misses the cache.
	// NB: not DB.Get, which never reads the Bloom filters of the last level,
	// where most of the data is: a Get of a key that does not exist (the first
	// record of every key) then reads a data block, mostly from disk.
	// UseL6Filters cut the block cache misses of a 4M-new-key count 15-fold.
	getOptions pebbledb.IterOptions

	// stop is canceled when Close starts; uploads in flight stop with it.
	stop       context.Context
	cancelStop context.CancelFunc
	uploads    sync.WaitGroup

	mu sync.Mutex
	// uploaded maps the local name of every immutable file (SSTable, blob
	// file) known to be in the store to its FileRef. Guarded by mu.
	uploaded map[string]runtime.FileRef
}

var _ runtime.StateBackend = (*backend)(nil)

func open(ctx context.Context, cfg runtime.BackendConfig) (_ *backend, err error) {
	switch {
	case cfg.Dir == "":
		return nil, errors.New("pebble: open: BackendConfig.Dir is empty")
	case cfg.Store == nil:
		return nil, errors.New("pebble: open: BackendConfig.Store is nil")
	case cfg.CacheBytes < 0:
		return nil, fmt.Errorf("pebble: open: negative BackendConfig.CacheBytes %d", cfg.CacheBytes)
	}
	for i, h := range cfg.Restore {
		if h.Backend != Name {
			return nil, fmt.Errorf("pebble: open: restore handle %d is of backend %q, not %q", i, h.Backend, Name)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cacheBytes := cfg.CacheBytes
	if cacheBytes == 0 {
		cacheBytes = DefaultCacheBytes
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	b := &backend{
		cfg:            cfg,
		log:            log.With("component", "pebble", "keyGroups", cfg.KeyGroups),
		cache:          newCache(cacheBytes),
		dbDir:          filepath.Join(cfg.Dir, dbDirName),
		checkpointsDir: filepath.Join(cfg.Dir, checkpointsDirName),
		token:          token,
		uploaded:       make(map[string]runtime.FileRef),
		getOptions:     pebbledb.IterOptions{UseL6Filters: true},
	}
	b.stop, b.cancelStop = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			b.cancelStop()
			if b.db != nil {
				_ = b.db.Close()
			}
			_ = b.removeDirs()
		}
	}()
	// NB: a previous instance that crashed may have left its files here; its
	// state is in the snapshot store, never on this disk, so they go.
	if err := b.removeDirs(); err != nil {
		return nil, fmt.Errorf("pebble: open: clear %s: %w", cfg.Dir, err)
	}
	if err := os.MkdirAll(b.checkpointsDir, 0o755); err != nil {
		return nil, fmt.Errorf("pebble: open: %w", err)
	}
	if len(cfg.Restore) == 1 && cfg.Restore[0].KeyGroups == cfg.KeyGroups {
		// The same key groups as before: use the checkpoint as the database.
		h := cfg.Restore[0]
		if err := b.download(ctx, h, b.dbDir); err != nil {
			return nil, err
		}
		if b.db, err = pebbledb.Open(b.dbDir, dbOptions(b.log, false)); err != nil {
			return nil, fmt.Errorf("pebble: open restored database: %w", err)
		}
		for _, f := range h.Files {
			if isImmutable(f.Name) {
				b.uploaded[f.Name] = f
			}
		}
		b.log.Debug("restored state in place", "files", len(h.Files))
		return b, nil
	}
	if b.db, err = pebbledb.Open(b.dbDir, dbOptions(b.log, false)); err != nil {
		return nil, fmt.Errorf("pebble: open database: %w", err)
	}
	if err := b.restoreRanges(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// dbOptions returns the options of every database this package opens.
func dbOptions(log *slog.Logger, readOnly bool) *pebbledb.Options {
	o := &pebbledb.Options{
		CacheSize: blockCacheBytes,
		// NB: no WAL. The state is made durable by checkpoints in the snapshot
		// store, and a crashed subtask restores from there into a fresh
		// directory; a WAL would only cost a second write of every change.
		DisableWAL:                  true,
		FormatMajorVersion:          pebbledb.FormatNewest,
		MemTableSize:                memTableBytes,
		MemTableStopWritesThreshold: maxMemTables,
		Logger:                      pebbleLogger{log},
		ReadOnly:                    readOnly,
	}
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(bloomBitsPerKey)
	}
	return o
}

// Get returns the value of key; the slice is valid until the next call.
func (b *backend) Get(key []byte) ([]byte, bool, error) {
	if b.closed {
		return nil, false, errClosed
	}
	if v, present, hit := b.cache.get(key); hit {
		return v, present, nil
	}
	it, err := b.db.NewIter(&b.getOptions)
	if err != nil {
		return nil, false, fmt.Errorf("pebble: get: %w", err)
	}
	seek := key
	if len(seek) == 0 {
		seek = nil // NB: Pebble's invariant checks index a non-nil seek key
	}
	if !it.SeekPrefixGE(seek) || !bytes.Equal(it.Key(), key) {
		if err := it.Close(); err != nil {
			return nil, false, fmt.Errorf("pebble: get: %w", err)
		}
		b.cache.fill(key, nil, false)
		return nil, false, b.evictIfOver()
	}
	v, err := it.ValueAndErr()
	if err != nil {
		_ = it.Close()
		return nil, false, fmt.Errorf("pebble: get: %w", err)
	}
	cached := b.cache.fill(key, v, true)
	if err := it.Close(); err != nil {
		return nil, false, fmt.Errorf("pebble: get: %w", err)
	}
	// NB: cached stays valid even if eviction drops its entry right away: the
	// cache never reuses the buffer of an evicted entry.
	return cached, true, b.evictIfOver()
}

// Set stores a copy of key and value.
func (b *backend) Set(key, value []byte) error {
	if b.closed {
		return errClosed
	}
	b.cache.set(key, value)
	return b.evictIfOver()
}

// Delete deletes key.
func (b *backend) Delete(key []byte) error {
	if b.closed {
		return errClosed
	}
	b.cache.del(key)
	return b.evictIfOver()
}

// DeleteRange deletes every key in [start, end); a nil end means no upper bound.
func (b *backend) DeleteRange(start, end []byte) error {
	if b.closed {
		return errClosed
	}
	if end != nil && bytes.Compare(start, end) >= 0 {
		return nil
	}
	if len(start) == 0 {
		start = nil // NB: Pebble wants no bound rather than an empty one
	}
	// After the write-back Pebble holds every key that exists, and the cache
	// holds no dirty entry, so the keys Pebble finds in the range are all the
	// cached entries that must become tombstones.
	if err := b.writeBack(); err != nil {
		return err
	}
	it, err := b.db.NewIter(&pebbledb.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return fmt.Errorf("pebble: delete range: %w", err)
	}
	batch := b.db.NewBatch()
	defer batch.Close()
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		b.cache.forget(it.Key())
		if n < maxPointDeletesPerRange || end == nil {
			_ = batch.Delete(it.Key(), nil) // NB: a Batch only fails writes after Close
		}
		n++
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("pebble: delete range: %w", err)
	}
	if n > maxPointDeletesPerRange && end != nil {
		_ = batch.DeleteRange(start, end, nil)
	}
	if batch.Empty() {
		return nil
	}
	if err := batch.Commit(pebbledb.NoSync); err != nil {
		return fmt.Errorf("pebble: delete range: %w", err)
	}
	return nil
}

// Scan calls fn for each key in [start, end) in ascending order until fn
// returns false; a nil end means no upper bound.
func (b *backend) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	if b.closed {
		return errClosed
	}
	if end != nil && bytes.Compare(start, end) >= 0 {
		return nil
	}
	if len(start) == 0 {
		start = nil // NB: Pebble wants no bound rather than an empty one
	}
	if err := b.writeBack(); err != nil {
		return err
	}
	it, err := b.db.NewIter(&pebbledb.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return fmt.Errorf("pebble: scan: %w", err)
	}
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("pebble: scan: %w", err)
		}
		if !fn(it.Key(), v) {
			break
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("pebble: scan: %w", err)
	}
	return nil
}

// Close cancels the uploads still running and waits for them, closes the
// database and removes the backend's directories, then cfg.Dir if that is
// empty. The objects in the snapshot store stay. A second Close does nothing.
func (b *backend) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.mu.Lock()
	b.cancelStop() // under mu: no upload starts after this
	b.mu.Unlock()
	b.uploads.Wait()
	err := b.db.Close()
	if rerr := b.removeDirs(); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if rerr := os.Remove(b.cfg.Dir); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		b.log.Debug("keep non-empty state directory", "dir", b.cfg.Dir, "err", rerr)
	}
	if err != nil {
		return fmt.Errorf("pebble: close: %w", err)
	}
	return nil
}

// evictIfOver evicts from the cache if it holds more than its bound, writing
// the dirty entries it evicts back to Pebble in one batch.
// NB: if the batch fails, the evicted changes are lost: like every error of
// the backend, it leaves the state undefined and the runtime restores it from
// the last checkpoint.
func (b *backend) evictIfOver() error {
	if !b.cache.over() {
		return nil
	}
	batch := b.db.NewBatch()
	defer batch.Close()
	if err := b.cache.evict(batchWriter{batch}); err != nil {
		return fmt.Errorf("pebble: evict from state cache: %w", err)
	}
	if batch.Empty() {
		return nil
	}
	if err := batch.Commit(pebbledb.NoSync); err != nil {
		return fmt.Errorf("pebble: write back evicted state: %w", err)
	}
	return nil
}

// writeBack writes every dirty cache entry to Pebble in one batch.
func (b *backend) writeBack() error {
	if b.cache.dirtyCount() == 0 {
		return nil
	}
	batch := b.db.NewBatch()
	defer batch.Close()
	if err := b.cache.writeBack(batchWriter{batch}); err != nil {
		return fmt.Errorf("pebble: write back state cache: %w", err)
	}
	if err := batch.Commit(pebbledb.NoSync); err != nil {
		return fmt.Errorf("pebble: write back state cache: %w", err)
	}
	return nil
}

// removeDirs removes the directories the backend owns in cfg.Dir.
func (b *backend) removeDirs() error {
	var errs []error
	for _, d := range []string{dbDirName, checkpointsDirName, restoreDirName} {
		if err := os.RemoveAll(filepath.Join(b.cfg.Dir, d)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// newToken returns 16 random hex digits.
func newToken() (string, error) {
	var t [8]byte
	if _, err := rand.Read(t[:]); err != nil {
		return "", fmt.Errorf("pebble: random token: %w", err)
	}
	return hex.EncodeToString(t[:]), nil
}

// batchWriter writes the cache's dirty entries into a Pebble batch.
type batchWriter struct{ b *pebbledb.Batch }

func (w batchWriter) put(key, value []byte) error { return w.b.Set(key, value, nil) }
func (w batchWriter) del(key []byte) error        { return w.b.Delete(key, nil) }

// pebbleLogger sends Pebble's log to a slog.Logger: information at debug level,
// since Pebble reports routine events there.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
}

// Fatalf logs and panics: Pebble calls it for a broken invariant.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg)
	panic("pebble: " + msg)
}

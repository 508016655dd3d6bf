package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Manifest describes one complete checkpoint (or savepoint): the state handles of
// every keyed operator subtask, the position of every source split, and the
// committables of every sink. A checkpoint is complete exactly when its manifest
// is in the snapshot store (SnapshotStore.Put is atomic).
type Manifest struct {
	Format         int                        `json:"format"` // manifestFormat
	Job            string                     `json:"job"`
	Checkpoint     int64                      `json:"checkpoint"`
	TimeUnixMs     int64                      `json:"timeUnixMs"`
	MaxParallelism int                        `json:"maxParallelism"`
	Finished       bool                       `json:"finished"` // every source had ended: the job is done
	Sources        map[string]*SourceSnapshot `json:"sources"`
	Operators      map[string]*OperatorSnap   `json:"operators"`
	Sinks          map[string]*SinkSnapshot   `json:"sinks"`
	// Modules is the history of the modules operators ran, oldest first: which
	// module each operator runs from which checkpoint barrier on. Its last entry
	// per operator is the module that runs the records after this checkpoint, so
	// a restore always pairs the state with the module the job was running.
	Modules []ModuleChange `json:"modules,omitempty"`
	// DLQ refers to the job's dead-letter queue as of this checkpoint (dlq.go);
	// nil while it has never held a record.
	DLQ *DLQRef `json:"dlq,omitempty"`
	// Journals holds, per operator that keeps an input journal, per subtask,
	// the segments of the input it ran since the checkpoint before
	// (journal.go): one, or more when checkpoints between were abandoned.
	Journals map[string][][]JournalSegment `json:"journals,omitempty"`
}

// ModuleChange says that from checkpoint barrier FromCheckpoint on (0: from the
// job's start), operator Operator runs module Module (an OperatorNode.Module).
type ModuleChange struct {
	Operator       string `json:"operator"`
	Module         string `json:"module"`
	FromCheckpoint int64  `json:"fromCheckpoint"`
	TimeUnixMs     int64  `json:"timeUnixMs,omitempty"`
	// CanaryModule, when set, runs instead of Module on the key groups
	// CanaryKeyGroups (canary.go).
	CanaryModule    string          `json:"canaryModule,omitempty"`
	CanaryKeyGroups []KeyGroupRange `json:"canaryKeyGroups,omitempty"`
}

// LiveModules returns, per operator, the module the last entry of m.Modules
// names (empty when m has no history).
func (m *Manifest) LiveModules() map[string]string {
	out := map[string]string{}
	for _, c := range m.Modules {
		out[c.Operator] = c.Module
	}
	return out
}

// SourceSnapshot holds the positions of a source's splits.
type SourceSnapshot struct {
	Splits map[string]SplitSnapshot `json:"splits"`
}

// SplitSnapshot is where one split was at a checkpoint.
type SplitSnapshot struct {
	Position []byte `json:"position,omitempty"`
	Records  uint64 `json:"records"` // records read so far: the next tracking sequence
	// AckFrom is Records at the previous complete checkpoint: this checkpoint
	// decides the ACK/NACK of records AckFrom to Records-1 (acks.go).
	AckFrom uint64 `json:"ackFrom,omitempty"`
	// AckPosition is Position at the previous complete checkpoint: where
	// record AckFrom starts in the source (nil: at the split's beginning).
	AckPosition []byte `json:"ackPosition,omitempty"`
	Finished    bool   `json:"finished,omitempty"`
}

// OperatorSnap holds the state handles of an operator's subtasks (none for a
// stateless operator).
type OperatorSnap struct {
	Parallelism int           `json:"parallelism"`
	State       []StateHandle `json:"state,omitempty"`
}

// SinkSnapshot holds a sink's committables: those of this checkpoint and those
// carried over from abandoned checkpoints before it.
type SinkSnapshot struct {
	Committables [][]byte `json:"committables,omitempty"`
}

const (
	manifestFormat   = 1
	checkpointsDir   = "checkpoints/"
	manifestName     = "MANIFEST"
	checksumLinePref = "sha256:"
)

func manifestObject(id int64) string {
	return fmt.Sprintf("%s%020d/%s", checkpointsDir, id, manifestName)
}

// encodeManifest renders m as JSON followed by a line with its SHA-256, so that a
// torn or flipped manifest is detected on load.
func encodeManifest(m *Manifest) ([]byte, error) { return encodeChecked(m) }

// encodeChecked renders v as indented JSON followed by a line with its SHA-256.
func encodeChecked(v any) ([]byte, error) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	var b bytes.Buffer
	b.Write(body)
	b.WriteString("\n" + checksumLinePref + hex.EncodeToString(sum[:]) + "\n")
	return b.Bytes(), nil
}

// decodeChecked verifies what encodeChecked wrote and decodes it into v; what
// names the object kind in errors, which wrap ErrCorruptSnapshot.
func decodeChecked(data []byte, v any, what string) error {
	data = bytes.TrimRight(data, "\n")
	i := bytes.LastIndexByte(data, '\n')
	if i < 0 || !bytes.HasPrefix(data[i+1:], []byte(checksumLinePref)) {
		return fmt.Errorf("%w: %s has no checksum line", ErrCorruptSnapshot, what)
	}
	body, want := data[:i], string(data[i+1+len(checksumLinePref):])
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != want {
		return fmt.Errorf("%w: %s checksum mismatch", ErrCorruptSnapshot, what)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorruptSnapshot, what, err)
	}
	return nil
}

func decodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := decodeChecked(data, &m, "manifest"); err != nil {
		return nil, err
	}
	if m.Format != manifestFormat {
		return nil, fmt.Errorf("manifest format %d is not supported (this build reads %d)", m.Format, manifestFormat)
	}
	return &m, nil
}

func writeManifest(ctx context.Context, store SnapshotStore, name string, m *Manifest) error {
	data, err := encodeManifest(m)
	if err != nil {
		return err
	}
	return store.Put(ctx, name, bytes.NewReader(data))
}

// ReadManifest loads and verifies the manifest stored under name.
func ReadManifest(ctx context.Context, store SnapshotStore, name string) (*Manifest, error) {
	rc, err := store.Get(ctx, name)
	if err != nil {
		if errors.Is(err, ErrNotExist) {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorruptSnapshot, name, err)
		}
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("%s: manifest is larger than %d bytes", name, maxManifestBytes)
	}
	m, err := decodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// maxManifestBytes bounds what a manifest read may allocate.
const maxManifestBytes = 256 << 20

// listCheckpoints returns the ids of the checkpoints in store that have a
// manifest object (valid or not), highest first, and the highest id seen in any
// checkpoint object name (so new ids never reuse an old directory).
func listCheckpoints(ctx context.Context, store SnapshotStore) (ids []int64, maxSeen int64, err error) {
	names, err := store.List(ctx, checkpointsDir)
	if err != nil {
		return nil, 0, fmt.Errorf("list checkpoints: %w", err)
	}
	for _, n := range names {
		rest := strings.TrimPrefix(n, checkpointsDir)
		dir, file, _ := strings.Cut(rest, "/")
		id, err := strconv.ParseInt(dir, 10, 64)
		if err != nil {
			continue
		}
		maxSeen = max(maxSeen, id)
		if file == manifestName {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
	return ids, maxSeen, nil
}

// objects returns every snapshot object m needs (state files), excluding the
// manifest itself, sorted and without duplicates.
func (m *Manifest) objects() []string {
	var out []string
	for _, o := range m.Operators {
		for _, h := range o.State {
			for _, f := range h.Files {
				out = append(out, f.Object)
			}
		}
	}
	if m.DLQ != nil {
		out = append(out, m.DLQ.Segments...)
	}
	for _, subs := range m.Journals {
		for _, segs := range subs {
			for _, s := range segs {
				if s.Object != "" {
					out = append(out, s.Object)
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// collectGarbage keeps the newest retain complete checkpoints and deletes the
// manifests and state objects of older ones that no kept checkpoint references.
// Failures are logged and left for the next run: garbage is never a correctness
// problem.
func collectGarbage(ctx context.Context, store SnapshotStore, retain int, log *slog.Logger) {
	ids, _, err := listCheckpoints(ctx, store)
	if err != nil || len(ids) <= retain {
		return
	}
	keep := map[string]bool{}
	kept := 0
	var drop []int64
	for _, id := range ids {
		if kept >= retain {
			drop = append(drop, id)
			continue
		}
		m, err := ReadManifest(ctx, store, manifestObject(id))
		if err != nil {
			continue // a corrupt manifest is not counted as kept; it is dropped below with the old ones
		}
		kept++
		for _, o := range m.objects() {
			keep[o] = true
		}
	}
	for _, id := range drop {
		m, _ := ReadManifest(ctx, store, manifestObject(id))
		// Delete the manifest first: a crash in between leaves orphan objects, never
		// a manifest that points to deleted files.
		if err := store.Delete(ctx, manifestObject(id)); err != nil {
			log.Warn("garbage collection: delete manifest", "checkpoint", id, "err", err)
			return
		}
		if err := store.Delete(ctx, ackedObject(id)); err != nil {
			log.Warn("garbage collection: delete ACKED marker", "checkpoint", id, "err", err)
		}
		if m == nil {
			continue
		}
		for _, o := range m.objects() {
			if !keep[o] {
				if err := store.Delete(ctx, o); err != nil {
					log.Warn("garbage collection: delete object", "object", o, "err", err)
				}
			}
		}
	}
}

// sweepOrphans deletes state objects under prefix that no manifest in store
// references: uploads of checkpoints that never completed. It must only run when
// no upload is in flight (at the start of an attempt).
func sweepOrphans(ctx context.Context, store SnapshotStore, prefix string, log *slog.Logger) {
	ids, _, err := listCheckpoints(ctx, store)
	if err != nil {
		return
	}
	referenced := map[string]bool{}
	for _, id := range ids {
		m, err := ReadManifest(ctx, store, manifestObject(id))
		if err != nil {
			// NB: an unreadable manifest may still reference objects a fallback needs
			// less than we think, but deleting blindly is not safe: skip the sweep.
			return
		}
		for _, o := range m.objects() {
			referenced[o] = true
		}
	}
	names, err := store.List(ctx, prefix)
	if err != nil {
		return
	}
	for _, n := range names {
		if !referenced[n] {
			if err := store.Delete(ctx, n); err != nil {
				log.Warn("sweep orphan snapshot object", "object", n, "err", err)
			}
		}
	}
}

// Checkpoints returns the ids of the checkpoints in store that have a manifest,
// newest first (their manifests are not verified: see ReadManifest).
func Checkpoints(ctx context.Context, store SnapshotStore) ([]int64, error) {
	ids, _, err := listCheckpoints(ctx, store)
	return ids, err
}

// ManifestObject returns the object name of checkpoint id's manifest.
func ManifestObject(id int64) string { return manifestObject(id) }

// Objects returns the state objects m needs, besides its manifest.
func (m *Manifest) Objects() []string { return m.objects() }

package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Catalog limits.
const (
	// MaxRetainedCheckpoints is how many completed checkpoints the catalog
	// keeps per job (the newest); older manifests are the snapshot store's
	// garbage.
	MaxRetainedCheckpoints = 16
	// maxCASAttempts bounds the read-modify-write retries of one catalog or
	// membership write under contention.
	maxCASAttempts = 32
	// maxManifestNameBytes bounds a checkpoint's manifest name.
	maxManifestNameBytes = 512
)

const checkpointsPrefix = "checkpoints."

var (
	// ErrFenced is wrapped by a catalog write of a leader whose epoch is
	// older than the current leader's, or than the epoch that fenced the
	// job: the writer has been deposed and must stop acting as leader.
	ErrFenced = errors.New("coord: fenced by a newer leader epoch")
	// ErrCheckpointNotNewer is wrapped by Catalog.Complete for a checkpoint
	// id not above the newest completed one: ids never go back.
	ErrCheckpointNotNewer = errors.New("coord: checkpoint id not newer than the newest completed")
)

// Checkpoint is a completed checkpoint as the catalog records it.
type Checkpoint struct {
	Job string `json:"job"`
	ID  int64  `json:"id"`
	// Epoch is the epoch of the leader that completed it.
	Epoch Epoch `json:"epoch"`
	// Manifest names the checkpoint's manifest in the job's snapshot store.
	Manifest        string `json:"manifest"`
	CompletedUnixMs int64  `json:"completedUnixMs"`
}

// catalogRecord is the value under checkpoints.<job>.
type catalogRecord struct {
	// Epoch is the newest epoch that fenced or wrote the job's catalog.
	Epoch Epoch `json:"epoch"`
	// Checkpoints are the newest completed checkpoints, oldest first.
	Checkpoints []Checkpoint `json:"checkpoints"`
}

// Catalog is the cluster's record of completed checkpoints, per job. Only the
// leader writes it, with its epoch; a write of a deposed leader is refused.
// It is safe for concurrent use.
type Catalog struct{ kv KV }

// NewCatalog returns the catalog kept in kv (the store of the election).
func NewCatalog(kv KV) *Catalog { return &Catalog{kv: kv} }

// Complete records cp, completed by the leader of epoch: the point after
// which its sinks may commit. It fails with ErrFenced when a newer leader
// exists or has fenced the job, and with ErrCheckpointNotNewer when cp.ID is
// not above the newest completed checkpoint of the job.
//
// NB: the leader record and the job's catalog are two keys, read one after
// the other; a new leader closes the gap between them by fencing each job
// (Fence) before it acts on it.
func (c *Catalog) Complete(ctx context.Context, epoch Epoch, cp Checkpoint) error {
	if err := checkID("job", cp.Job); err != nil {
		return err
	}
	if cp.ID <= 0 || len(cp.Manifest) > maxManifestNameBytes {
		return fmt.Errorf("coord: checkpoint %d of job %s: want an id > 0 and a manifest name of at most %d bytes", cp.ID, cp.Job, maxManifestNameBytes)
	}
	if err := c.checkLeader(ctx, epoch); err != nil {
		return err
	}
	cp.Epoch = epoch
	_, err := c.modify(ctx, cp.Job, epoch, func(r *catalogRecord) error {
		if n := len(r.Checkpoints); n > 0 && r.Checkpoints[n-1].ID >= cp.ID {
			return fmt.Errorf("complete checkpoint %d of job %s after %d: %w", cp.ID, cp.Job, r.Checkpoints[n-1].ID, ErrCheckpointNotNewer)
		}
		r.Checkpoints = append(r.Checkpoints, cp)
		if n := len(r.Checkpoints); n > MaxRetainedCheckpoints {
			r.Checkpoints = append([]Checkpoint(nil), r.Checkpoints[n-MaxRetainedCheckpoints:]...)
		}
		return nil
	})
	return err
}

// Fence raises the job's fencing epoch to epoch, so that from now on the
// catalog refuses writes of older epochs, and returns the job's completed
// checkpoints, oldest first. A new leader fences every job before it
// restores or schedules it. It fails with ErrFenced when a newer epoch has.
func (c *Catalog) Fence(ctx context.Context, job string, epoch Epoch) ([]Checkpoint, error) {
	if err := checkID("job", job); err != nil {
		return nil, err
	}
	if err := c.checkLeader(ctx, epoch); err != nil {
		return nil, err
	}
	r, err := c.modify(ctx, job, epoch, func(*catalogRecord) error { return nil })
	return r.Checkpoints, err
}

// Checkpoints returns the job's completed checkpoints, oldest first (none
// for a job that has none).
func (c *Catalog) Checkpoints(ctx context.Context, job string) ([]Checkpoint, error) {
	if err := checkID("job", job); err != nil {
		return nil, err
	}
	r, _, err := c.read(ctx, job)
	return r.Checkpoints, err
}

// Jobs lists the jobs the catalog has a record of, sorted.
func (c *Catalog) Jobs(ctx context.Context) ([]string, error) {
	keys, err := c.kv.Keys(ctx, checkpointsPrefix)
	if err != nil {
		return nil, fmt.Errorf("catalog: list jobs: %w", err)
	}
	for i, k := range keys {
		keys[i] = strings.TrimPrefix(k, checkpointsPrefix)
	}
	return keys, nil
}

// checkLeader fails with ErrFenced when the leader record holds an epoch
// newer than epoch.
func (c *Catalog) checkLeader(ctx context.Context, epoch Epoch) error {
	ent, err := c.kv.Get(ctx, leaderKey)
	if errors.Is(err, ErrKeyNotFound) {
		return fmt.Errorf("catalog: write with epoch %d, but no leader was ever elected: %w", epoch, ErrFenced)
	}
	if err != nil {
		return fmt.Errorf("catalog: read leader record: %w", err)
	}
	var rec leaderRecord
	if err := json.Unmarshal(ent.Value, &rec); err != nil {
		return fmt.Errorf("catalog: leader record at revision %d: %w", ent.Revision, err)
	}
	if rec.Epoch > epoch {
		return fmt.Errorf("catalog: write with epoch %d, leader epoch is %d: %w", epoch, rec.Epoch, ErrFenced)
	}
	return nil
}

// read returns the job's record and revision (0: none yet).
func (c *Catalog) read(ctx context.Context, job string) (catalogRecord, uint64, error) {
	ent, err := c.kv.Get(ctx, checkpointsPrefix+job)
	if errors.Is(err, ErrKeyNotFound) {
		return catalogRecord{}, 0, nil
	}
	if err != nil {
		return catalogRecord{}, 0, fmt.Errorf("catalog: read job %s: %w", job, err)
	}
	var r catalogRecord
	if err := json.Unmarshal(ent.Value, &r); err != nil {
		return catalogRecord{}, 0, fmt.Errorf("catalog: record of job %s at revision %d: %w", job, ent.Revision, err)
	}
	return r, ent.Revision, nil
}

// modify applies change to the job's record as the writer of epoch, by
// compare-and-swap, retrying when another write came first.
func (c *Catalog) modify(ctx context.Context, job string, epoch Epoch, change func(*catalogRecord) error) (catalogRecord, error) {
	for range maxCASAttempts {
		r, rev, err := c.read(ctx, job)
		if err != nil {
			return catalogRecord{}, err
		}
		if r.Epoch > epoch {
			return catalogRecord{}, fmt.Errorf("catalog: write job %s with epoch %d, fenced at %d: %w", job, epoch, r.Epoch, ErrFenced)
		}
		r.Epoch = epoch
		if err := change(&r); err != nil {
			return catalogRecord{}, err
		}
		if rev == 0 {
			_, err = c.kv.Create(ctx, checkpointsPrefix+job, mustJSON(r))
		} else {
			_, err = c.kv.Update(ctx, checkpointsPrefix+job, mustJSON(r), rev)
		}
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return catalogRecord{}, fmt.Errorf("catalog: write job %s: %w", job, err)
		}
		return r, nil
	}
	return catalogRecord{}, fmt.Errorf("catalog: write job %s: %d conflicting writes in a row: %w", job, maxCASAttempts, ErrConflict)
}

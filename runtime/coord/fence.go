package coord

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/weirstream/weir/runtime"
)

// Fence is the runtime.CheckpointFence of the leader of Epoch: it claims
// every job it runs in Catalog (Catalog.Fence) before the job restores, and
// records each checkpoint there (Catalog.Complete) before the runtime writes
// its manifest and commits its sinks. Once a newer leader exists, or has
// fenced the job, both fail with an error wrapping runtime.ErrFenced and
// ErrFenced, and the job stops without committing. It is safe for concurrent
// use.
type Fence struct {
	Catalog *Catalog
	Epoch   Epoch
	// Now stamps completions (nil: time.Now).
	Now func() time.Time
}

var _ runtime.CheckpointFence = Fence{}

// FenceJob raises job's fencing epoch to f.Epoch and returns its newest
// completed checkpoint id (0: none).
func (f Fence) FenceJob(ctx context.Context, job string) (int64, error) {
	cps, err := f.Catalog.Fence(ctx, CatalogJob(job), f.Epoch)
	if err != nil {
		return 0, fenceErr(err)
	}
	if n := len(cps); n > 0 {
		return cps[n-1].ID, nil
	}
	return 0, nil
}

// AdmitCheckpoint records checkpoint id of job as completed by f.Epoch.
func (f Fence) AdmitCheckpoint(ctx context.Context, job string, id int64) error {
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	cp := Checkpoint{Job: CatalogJob(job), ID: id, Manifest: runtime.ManifestObject(id), CompletedUnixMs: now().UnixMilli()}
	return fenceErr(f.Catalog.Complete(ctx, f.Epoch, cp))
}

// fenceErr makes ErrFenced a runtime.ErrFenced too, which is what stops a
// job.
func fenceErr(err error) error {
	if errors.Is(err, ErrFenced) {
		return fmt.Errorf("%w: %w", runtime.ErrFenced, err)
	}
	return err
}

// CatalogJob is the catalog id of the runtime job named name: name itself
// when it is a valid id, otherwise "h-" and a hash of it.
func CatalogJob(name string) string {
	if checkID("job", name) == nil {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "h-" + hex.EncodeToString(sum[:16])
}

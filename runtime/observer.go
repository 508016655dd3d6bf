package runtime

import (
	"sync/atomic"
	"time"
)

// Observer receives measurements of running jobs, for metrics. The subtasks
// call it from their goroutines, concurrently: an implementation must be safe
// for concurrent use and cheap (it is called once per batch, not per record).
type Observer interface {
	// Batch says that subtask of node (an operator or a sink) took in records
	// and emitted out records in d (timer batches count as batches too).
	Batch(job, node string, subtask, in, out int, d time.Duration)
	// Failure says that a batch of subtask of node failed.
	Failure(job, node string, subtask int)
	// Blocked says that subtask of node waited d for room in a full channel
	// downstream: backpressure.
	Blocked(job, node string, subtask int, d time.Duration)
	// Checkpoint says that checkpoint id completed d after it was triggered,
	// with stateBytes of state files in its handles; alignment is the longest
	// time a subtask held back inputs that delivered the barrier early.
	Checkpoint(job string, id int64, d time.Duration, stateBytes int64, alignment time.Duration)
	// CheckpointFailed says that checkpoint id was abandoned d after it was
	// triggered, because of err (a subtask's snapshot failed, it timed out,
	// its manifest could not be written); a later checkpoint tries again.
	CheckpointFailed(job string, id int64, d time.Duration, err error)
	// Swap says that subtask of operator runs module from the barrier of
	// checkpoint id on; pause is how long the swap held the subtask's records
	// back: the barrier's alignment, the state snapshot and the switch of
	// instances (the new instance was made before the barrier).
	Swap(job, operator string, subtask int, module string, id int64, pause time.Duration)
}

// nopObserver is the Observer of a Config without one.
type nopObserver struct{}

func (nopObserver) Batch(string, string, int, int, int, time.Duration)            {}
func (nopObserver) Failure(string, string, int)                                   {}
func (nopObserver) Blocked(string, string, int, time.Duration)                    {}
func (nopObserver) Checkpoint(string, int64, time.Duration, int64, time.Duration) {}
func (nopObserver) CheckpointFailed(string, int64, time.Duration, error)          {}
func (nopObserver) Swap(string, string, int, string, int64, time.Duration)        {}

// blockTimer measures how long a sender waits on full channels. It is shared
// by the links of one sending subtask.
type blockTimer struct {
	job, node string
	subtask   int
	obs       Observer
	alignNs   *atomic.Int64 // longest alignment of the checkpoint in progress
}

func (b *blockTimer) blocked(d time.Duration) { b.obs.Blocked(b.job, b.node, b.subtask, d) }

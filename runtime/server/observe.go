package server

import (
	"slices"
	"sync"
	"time"

	"github.com/weirstream/weir/runtime"
)

// jobObserver is the runtime.Observer of one job's executions: it keeps what
// Get and ListCheckpoints report (backpressure, failures, checkpoint
// measurements) and passes every call on to the server's Observer.
type jobObserver struct {
	next  runtime.Observer // nil: none
	stats *jobStats
	clock runtime.Clock
}

var _ runtime.Observer = jobObserver{}

// maxCheckpointStats bounds the checkpoint measurements a job keeps;
// maxCheckpointFailures the failed checkpoints (the newest).
const (
	maxCheckpointStats    = 512
	maxCheckpointFailures = 64
)

type checkpointStat struct{ duration, alignment time.Duration }

// checkpointFailure is an abandoned checkpoint.
type checkpointFailure struct {
	id         int64
	timeUnixMs int64
	duration   time.Duration
	err        string
}

// jobStats are one job's measurements in this server process.
type jobStats struct {
	mu          sync.Mutex
	blocked     map[string]time.Duration // per node, over every subtask
	failures    map[string]int64
	checkpoints map[int64]checkpointStat
	oldest      int64               // the smallest id in checkpoints
	failed      []checkpointFailure // oldest first

	// The backpressure ratio between the last two samples.
	lastBlocked map[string]time.Duration
	lastAt      time.Time
	ratio       map[string]float64
}

func newJobStats() *jobStats {
	return &jobStats{blocked: map[string]time.Duration{}, failures: map[string]int64{}, checkpoints: map[int64]checkpointStat{}}
}

func (o jobObserver) Batch(job, node string, subtask, in, out int, d time.Duration) {
	if o.next != nil {
		o.next.Batch(job, node, subtask, in, out, d)
	}
}

func (o jobObserver) Failure(job, node string, subtask int) {
	o.stats.mu.Lock()
	o.stats.failures[node]++
	o.stats.mu.Unlock()
	if o.next != nil {
		o.next.Failure(job, node, subtask)
	}
}

func (o jobObserver) Blocked(job, node string, subtask int, d time.Duration) {
	o.stats.mu.Lock()
	o.stats.blocked[node] += d
	o.stats.mu.Unlock()
	if o.next != nil {
		o.next.Blocked(job, node, subtask, d)
	}
}

func (o jobObserver) Checkpoint(job string, id int64, d time.Duration, stateBytes int64, alignment time.Duration) {
	st := o.stats
	st.mu.Lock()
	st.checkpoints[id] = checkpointStat{duration: d, alignment: alignment}
	if st.oldest == 0 || id < st.oldest {
		st.oldest = id
	}
	for len(st.checkpoints) > maxCheckpointStats {
		delete(st.checkpoints, st.oldest)
		st.oldest++
	}
	st.mu.Unlock()
	if o.next != nil {
		o.next.Checkpoint(job, id, d, stateBytes, alignment)
	}
}

func (o jobObserver) CheckpointFailed(job string, id int64, d time.Duration, err error) {
	st := o.stats
	st.mu.Lock()
	st.failed = append(st.failed, checkpointFailure{id: id, timeUnixMs: o.clock.Now().UnixMilli(), duration: d, err: err.Error()})
	if n := len(st.failed); n > maxCheckpointFailures {
		st.failed = slices.Delete(st.failed, 0, n-maxCheckpointFailures)
	}
	st.mu.Unlock()
	if o.next != nil {
		o.next.CheckpointFailed(job, id, d, err)
	}
}

func (o jobObserver) Swap(job, operator string, subtask int, module string, id int64, pause time.Duration) {
	if o.next != nil {
		o.next.Swap(job, operator, subtask, module, id, pause)
	}
}

// sample computes the backpressure ratio of each node since the last sample:
// time blocked over wall time times the node's parallelism.
func (st *jobStats) sample(parallelism map[string]int, now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.lastBlocked != nil {
		wall := now.Sub(st.lastAt)
		st.ratio = map[string]float64{}
		for node, p := range parallelism {
			if wall > 0 && p > 0 {
				st.ratio[node] = min(1, float64(st.blocked[node]-st.lastBlocked[node])/float64(wall*time.Duration(p)))
			}
		}
	}
	st.lastBlocked = make(map[string]time.Duration, len(st.blocked))
	for n, d := range st.blocked {
		st.lastBlocked[n] = d
	}
	st.lastAt = now
}

// node returns the backpressure ratio and failures of node.
func (st *jobStats) node(name string) (float64, int64) {
	if st == nil {
		return 0, 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.ratio[name], st.failures[name]
}

func (st *jobStats) checkpoint(id int64) (checkpointStat, bool) {
	if st == nil {
		return checkpointStat{}, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.checkpoints[id]
	return c, ok
}

// failedCheckpoints returns the failed checkpoints, newest first.
func (st *jobStats) failedCheckpoints() []checkpointFailure {
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	out := slices.Clone(st.failed)
	slices.Reverse(out)
	return out
}

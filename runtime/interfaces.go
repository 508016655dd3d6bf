package runtime

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/weirstream/weir/abi"
)

// Env is the host side of one operator call: what a guest's host functions
// (abi/ABI.md §5) do, with the guest's pointers already turned into slices. The
// runtime implements it; the Wasm host and the native SDK adapter call it. Every
// method returns an abi status code (0 = OK) as a uint32, so that an SDK can
// declare the same method set without importing this module.
//
// An Env is only valid during the Operator.Process call it was passed to, and only
// on that goroutine. Slices it returns are valid until the next call on the Env.
// Slices passed to it may alias guest memory and are valid only during the
// method call: an Env copies what it keeps. When a method returns abi.Internal,
// the Env keeps the cause and fails the call with it (see the runtime's opEnv).
type Env interface {
	// StateGet returns the value of user key userKey of state name, for the key
	// of batch entry entry; code is abi.NotFound when there is none.
	StateGet(entry uint32, name, userKey []byte) (value []byte, code uint32)
	StatePut(entry uint32, name, userKey, value []byte) uint32
	StateDelete(entry uint32, name, userKey []byte) uint32
	// StateClear deletes every user key of state name for the entry's key.
	StateClear(entry uint32, name []byte) uint32
	// StateScan calls fn for each user key >= start of state name, for the entry's
	// key, in ascending order, until fn returns false.
	StateScan(entry uint32, name, start []byte, fn func(userKey, value []byte) bool) uint32
	// TimerSet registers a timer of kind (abi.KindEventTimer or
	// abi.KindProcessingTime) at time ms for the entry's key.
	TimerSet(entry uint32, kind uint32, time int64) uint32
	TimerDelete(entry uint32, kind uint32, time int64) uint32
	// Emit hands an encoded batch of records to output port. The runtime copies
	// what it keeps.
	Emit(port uint32, batch []byte) uint32
	Log(level int32, msg []byte)
	// Call makes the journaled external call of abi/ABI.md §5.3 for the key of
	// batch entry entry: the response journaled under idempotency key key, or
	// else the response of the job's Caller, journaled before it is returned.
	// response is encoded as abi.AppendCallResponse does.
	Call(entry uint32, endpoint, request, key []byte) (response []byte, code uint32)
}

// Caller sends the external calls of a job (abi/ABI.md §5.3) to the endpoints
// the job spec names. One Caller serves every subtask of a job, so it is safe
// for concurrent use; it bounds its own concurrency and time per call.
//
// A response Call returns is a result of the request, and the runtime journals
// it: a response that only says "try again later" must be an error instead.
type Caller interface {
	// Call sends request to endpoint, carrying the idempotency key key, and
	// returns the response. Its error wraps ErrUnknownEndpoint when the job has
	// no such endpoint, ErrBadCall for a request it cannot send, or
	// ErrResponseTooLarge for a body over
	// abi.MaxValueBytes; any other error means no response (time-out, a
	// failed connection, a retry-later answer), and the runtime reports
	// abi.Unavailable.
	Call(ctx context.Context, endpoint string, request, key []byte) (CallResponse, error)
}

// CallResponse is an endpoint's answer to a call.
type CallResponse struct {
	Status int // the HTTP status for HTTP endpoints
	Body   []byte
}

// ErrUnknownEndpoint is wrapped by a Caller's error when the job configures no
// endpoint of the name a guest called.
var ErrUnknownEndpoint = errors.New("unknown endpoint")

// ErrBadCall is wrapped by a Caller's error when the request cannot be sent as
// the guest gave it (an idempotency key that an HTTP header cannot carry):
// sending it again would fail again.
var ErrBadCall = errors.New("call cannot be sent")

// ErrResponseTooLarge is wrapped by a Caller's error when a response body is
// larger than abi.MaxValueBytes, so that it cannot be journaled.
var ErrResponseTooLarge = errors.New("response too large to journal")

// Operator is one parallel instance (subtask) of a user operator: a Wasm instance,
// or a natively compiled SDK operator. It is used from one goroutine at a time.
type Operator interface {
	// Process runs one encoded batch (abi/ABI.md §4) through the operator. batch is
	// valid only during the call. A returned error fails the batch: the runtime
	// discards its effects and restarts the job from the last checkpoint. Errors
	// for a guest failure should be (or wrap) *OperatorError.
	Process(ctx context.Context, batch []byte, env Env) error
	// Close releases the instance.
	Close() error
}

// OperatorFactory makes the subtask instances of one operator.
type OperatorFactory interface {
	NewOperator(ctx context.Context, info OperatorInfo) (Operator, error)
}

// OperatorFactoryFunc adapts a function to OperatorFactory.
type OperatorFactoryFunc func(ctx context.Context, info OperatorInfo) (Operator, error)

// NewOperator calls f.
func (f OperatorFactoryFunc) NewOperator(ctx context.Context, info OperatorInfo) (Operator, error) {
	return f(ctx, info)
}

// OperatorInfo tells an operator instance where it runs.
type OperatorInfo struct {
	Job         string
	Name        string // operator name in the job
	Subtask     int    // 0-based
	Parallelism int
	Keyed       bool // the input is key-partitioned, so state and timers are allowed
	Config      []byte
	Logger      *slog.Logger
}

// OperatorError is a failure of the guest while it processed a batch: a trap, a
// time-out, or a non-zero status. The runtime fills in Operator and Subtask and
// the entry details from the batch.
type OperatorError struct {
	Operator string
	// Module names the code that failed (the Wasm module or plugin), if known.
	Module  string
	Subtask int
	// Entry is the index of the batch entry being processed, or -1 if unknown.
	Entry int
	// Key, Timestamp and TrackingID describe that entry.
	Key        []byte
	Timestamp  int64
	TrackingID uint64
	// Position says where the entry came from (filled in by the runtime).
	Position string
	Code     abi.Code // non-zero status returned by the guest, or 0 for a trap
	Err      error
}

// State storage -------------------------------------------------------------

// StateBackend holds the keyed state of one operator subtask as ordered
// key/value pairs. Keys start with the 2-byte big-endian key group (see
// StateKey), so a range of key groups is a range of keys. It is used from the
// subtask's goroutine, except that the Upload returned by Checkpoint may run on
// another goroutine concurrently with further use.
type StateBackend interface {
	// Get returns the value of key; the slice is valid until the next call.
	Get(key []byte) (value []byte, ok bool, err error)
	// Set stores a copy of key and value.
	Set(key, value []byte) error
	Delete(key []byte) error
	// DeleteRange deletes every key in [start, end).
	DeleteRange(start, end []byte) error
	// Scan calls fn for each key in [start, end) in ascending order until fn
	// returns false. fn must not modify the backend; slices are valid only
	// during the callback.
	Scan(start, end []byte, fn func(key, value []byte) bool) error
	// Checkpoint captures the state as it is now (quickly, on the caller's
	// goroutine) and returns an Upload that makes the capture durable in the
	// snapshot store.
	Checkpoint(ctx context.Context, checkpointID int64) (Upload, error)
	// Close releases the backend and removes its local files.
	Close() error
}

// Upload finishes a checkpoint of a StateBackend: it copies what is not yet in
// the snapshot store and returns the handle that restores it.
type Upload func(ctx context.Context) (StateHandle, error)

// StateBackendFactory opens the state of operator subtasks.
type StateBackendFactory interface {
	// Name identifies the backend in StateHandles ("pebble", "memory").
	Name() string
	// Open creates a subtask's state. When cfg.Restore is not empty, it first
	// loads from each handle the entries whose key group is in cfg.KeyGroups
	// (handles may cover other key groups too: those entries are skipped). A
	// handle whose file fails its checksum or is missing gives an error that
	// wraps ErrCorruptSnapshot.
	Open(ctx context.Context, cfg BackendConfig) (StateBackend, error)
}

// BackendConfig says where and what a StateBackend holds.
type BackendConfig struct {
	Dir       string        // local working directory of the subtask (created if absent)
	KeyGroups KeyGroupRange // the key groups this subtask owns
	Restore   []StateHandle // what to restore from; empty for a fresh start
	Store     SnapshotStore // where checkpoints are uploaded and restored from
	// Prefix is where in Store this operator's checkpoint files go (ends in "/").
	Prefix     string
	CacheBytes int64 // bound of the in-memory state cache, for backends that have one
	Logger     *slog.Logger
}

// StateHandle describes one subtask's state in one checkpoint: enough to
// restore it. It is stored in the checkpoint manifest as JSON.
type StateHandle struct {
	Backend   string        `json:"backend"`
	KeyGroups KeyGroupRange `json:"keyGroups"`
	Files     []FileRef     `json:"files,omitempty"`
}

// FileRef is one file of a StateHandle.
type FileRef struct {
	Name   string `json:"name"`   // name in the backend's local directory
	Object string `json:"object"` // name in the SnapshotStore
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
}

// KeyGroupRange is the inclusive range of key groups [First, Last]. An empty
// range has First > Last.
type KeyGroupRange struct {
	First int `json:"first"`
	Last  int `json:"last"`
}

// Contains reports whether kg is in r.
func (r KeyGroupRange) Contains(kg int) bool { return kg >= r.First && kg <= r.Last }

// Empty reports whether r holds no key group.
func (r KeyGroupRange) Empty() bool { return r.First > r.Last }

// Intersects reports whether r and o share a key group.
func (r KeyGroupRange) Intersects(o KeyGroupRange) bool {
	return !r.Empty() && !o.Empty() && r.First <= o.Last && o.First <= r.Last
}

// ErrCorruptSnapshot is wrapped by errors about snapshot data that is missing or
// fails its checksum. The runtime then falls back to an older checkpoint.
var ErrCorruptSnapshot = errors.New("corrupt or missing snapshot data")

// SnapshotStore keeps checkpoints and savepoints: a flat namespace of immutable
// objects named with "/"-separated paths. Implementations must be safe for
// concurrent use.
type SnapshotStore interface {
	// Put stores the whole of r under name, atomically: a reader sees all of it
	// or nothing. It replaces an existing object.
	Put(ctx context.Context, name string, r io.Reader) error
	// Get opens name. A missing object gives an error that wraps ErrNotExist.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// List returns the names that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes name; a missing object is not an error.
	Delete(ctx context.Context, name string) error
}

// ErrNotExist is wrapped by SnapshotStore.Get for a missing object.
var ErrNotExist = errors.New("object does not exist")

// Sources -------------------------------------------------------------------

// Source is a replayable input. It is divided into splits (files, partitions,
// generator streams) with stable ids; the runtime assigns splits to source
// subtasks and stores each split's position in every checkpoint, so it can
// resume a split, on any subtask, from where the checkpoint left it.
type Source interface {
	// Splits lists the splits. The list must be the same on every call for the
	// same job spec.
	Splits(ctx context.Context) ([]string, error)
	// Open starts reading split at position (nil: from the beginning).
	Open(ctx context.Context, split string, position []byte, env SourceEnv) (SplitReader, error)
}

// SourceEnv is what a SplitReader may use from the runtime.
type SourceEnv struct {
	Clock  Clock
	Logger *slog.Logger
}

// SplitReader reads one split. It is used from one goroutine.
type SplitReader interface {
	// Read appends up to maxRecords records to w and returns how many it
	// appended. When no record is available it returns 0 and nil without
	// blocking for long (so that checkpoint barriers are not held up). It
	// returns io.EOF once a bounded split is exhausted (possibly with n > 0).
	// The runtime sets the tracking ids of the records it returns.
	Read(ctx context.Context, w *abi.Writer, maxRecords int) (n int, err error)
	// Position returns the position just after the last record returned by
	// Read; opening the split at it resumes with the next record.
	Position() []byte
	Close() error
}

// Sinks ---------------------------------------------------------------------

// Sink is a transactional output, committed in two phases driven by
// checkpoints: each writer pre-commits at a checkpoint barrier and returns a
// committable; once the checkpoint is complete the runtime commits the
// committables of all writers; on recovery it hands the restored checkpoint's
// committables to Recover.
//
// A Sink, Source or AckSink that holds resources beyond its writers and
// readers (a control connection, say) implements io.Closer: the runtime
// closes it when the execution ends. Close must leave it usable: the next
// call opens what it needs again, because a Job may be run again.
type Sink interface {
	// OpenWriter opens the writer of one sink subtask.
	OpenWriter(ctx context.Context, info SinkInfo) (SinkWriter, error)
	// Commit makes the committables of a complete checkpoint visible. It must be
	// idempotent: the runtime retries it, and calls it again after a crash.
	Commit(ctx context.Context, checkpointID int64, committables [][]byte) error
	// Recover runs before any writer opens after a (re)start from checkpointID
	// (0: from nothing). It commits committables (those of checkpointID),
	// aborts anything this sink left pending, and — where the external system
	// allows it — removes output committed by checkpoints after checkpointID,
	// which the restarted job will replay.
	Recover(ctx context.Context, checkpointID int64, committables [][]byte) error
}

// ErrOutputLost is wrapped by a Sink's Commit or Recover error when the
// external system no longer holds what a committable of a complete checkpoint
// stands for (an upload whose parts the store lost), so that no retry can
// commit it. The job then fails at once, without restarts: every restart
// would recover the same checkpoint into the same error. The sink's error
// names what is lost.
var ErrOutputLost = errors.New("output of a complete checkpoint lost in the sink's external system")

// CheckpointFence admits checkpoint completions on behalf of a cluster's
// leader: in a cluster, the JobManager that runs a job presents its leader
// epoch through it, so that a deposed leader (paused or partitioned, still
// running its jobs) can neither complete a checkpoint nor commit a sink. A
// single process has none (Config.Fence nil). Implementations must be safe
// for concurrent use: every job calls the one fence.
type CheckpointFence interface {
	// FenceJob is called before each attempt of job restores: it claims the
	// job for the caller's term, so that no older leader completes a
	// checkpoint of it from now on, and returns the newest checkpoint id the
	// fence has admitted for the job (0: none). The attempt numbers its
	// checkpoints above it. An error wrapping ErrFenced ends the job
	// without restarts and without recovering anything; any other error
	// fails the attempt.
	FenceJob(ctx context.Context, job string) (newest int64, err error)
	// AdmitCheckpoint is called once every subtask has acknowledged
	// checkpoint id of job, before its manifest is written (which is what
	// makes it complete) and before any sink commits. nil admits it. An
	// error wrapping ErrFenced refuses it for good: the job ends at once,
	// without writing the manifest, committing or restarting. Any other
	// error abandons the checkpoint, as a failed manifest write does (its
	// committables go with the next one).
	AdmitCheckpoint(ctx context.Context, job string, id int64) error
}

// ErrFenced is wrapped by a CheckpointFence's error when a newer leader has
// taken over the job: this process must stop acting on it. A job that
// meets it ends without restarts, and Execution.Wait returns it.
var ErrFenced = errors.New("fenced: a newer leader runs this job")

// JobTiming is the part of a job's configuration that bounds how long the
// runtime may take to retry a sink's commit: what a sink whose external
// system forgets after a while (a broker's duplicate window, a transaction
// timeout) must check its configuration against.
type JobTiming struct {
	CheckpointInterval time.Duration
	CheckpointTimeout  time.Duration
	RestartDelay       time.Duration
}

// TimingAware is implemented by a Sink that checks its external system
// against the job's timing. The runtime calls SetJobTiming before each
// Recover; the sink reports a mismatch as an error of Recover (or of a later
// call) that names the setting to change.
type TimingAware interface {
	SetJobTiming(JobTiming)
}

// SinkInfo tells a sink writer where it runs.
type SinkInfo struct {
	Job, Name            string
	Subtask, Parallelism int
	Logger               *slog.Logger
}

// SinkWriter writes one sink subtask's records.
type SinkWriter interface {
	// Write takes an encoded batch of records (abi/ABI.md §4), valid during the
	// call only.
	Write(ctx context.Context, batch []byte) error
	// PreCommit ends the current transaction at a checkpoint barrier: after it,
	// Commit of the returned committable must succeed even after a crash. A nil
	// committable means there is nothing to commit.
	PreCommit(ctx context.Context, checkpointID int64) ([]byte, error)
	// Close releases the writer; what was not pre-committed is left for Recover
	// to abort.
	Close() error
}

// Clock is the source of processing time. The simulation test uses a fake one.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

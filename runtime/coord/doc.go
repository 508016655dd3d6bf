// Package coord is the coordination of a Weir cluster: leader election with a
// fencing token, the checkpoint catalog, and TaskManager membership. It is
// written against one small seam, [KV], a key-value store with
// compare-and-swap on per-key revisions: [MemKV] is its in-memory twin (for
// unit and simulation tests), and plugins/nats/natskv backs it with a NATS
// JetStream key-value bucket. Every rule of the cluster lives here, once, and
// the conformance suite in coordtest runs the same tests against both.
//
// # Time
//
// No decision depends on clocks agreeing between processes. A lease is
// judged by the observer's own clock (Config-style Now functions, injectable
// for tests): a standby takes over only after it has seen the leader's record
// unchanged for a whole lease, measured from when it first saw that
// revision; the leader counts its lease from before it sent the renewal. So
// the leader's own view of its lease ends before any standby's, as long as
// clocks run at about the same rate. Membership expiry works the same way.
//
// # Fencing
//
// Each takeover writes the leader record with the previous epoch plus one, by
// compare-and-swap on the record's revision, so two candidates can never
// both win one epoch, and epochs never go back (resigning releases the
// record but keeps its epoch). The epoch is the fencing token: a checkpoint
// completion ([Catalog.Complete]) carries the writer's epoch and is refused
// with [ErrFenced] when a newer leader exists, or has fenced the job's
// catalog ([Catalog.Fence], which a new leader calls for every job before it
// acts on it). Sinks commit only what the catalog accepted, so a deposed
// leader can neither complete a checkpoint nor commit a sink.
//
// [Fence] is how the runtime presents the epoch: it is the
// runtime.CheckpointFence of the leader of one epoch. The runtime calls
// Fence.FenceJob before each attempt of a job restores (Catalog.Fence; the
// attempt numbers its checkpoints above the catalog's newest) and
// Fence.AdmitCheckpoint once every subtask has acknowledged a checkpoint,
// before the manifest is written and before any sink commits
// (Catalog.Complete). Its ErrFenced is a runtime.ErrFenced too, which stops
// the job at once.
//
// # Keys
//
//	leader              the leader record (holder, epoch)
//	checkpoints.<job>   a job's fencing epoch and its newest completed
//	                    checkpoints (ids only go up)
//	members.<id>        a TaskManager's record (address, slots,
//	                    incarnation), rewritten on every heartbeat
//
// Ids (jobs, TaskManagers, candidates) are 1-64 of a-z A-Z 0-9 _ -, which
// every KV accepts as part of a key.
package coord

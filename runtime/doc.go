// Package runtime is Weir's engine: it runs a Job — sources, Wasm operators and
// sinks connected by forward, keyBy and rebalance edges — as subtasks that pass
// batches of records to each other, and makes the whole exactly-once with
// aligned checkpoint barriers, state snapshots and two-phase-commit sinks.
//
// The core talks to the world only through the interfaces in interfaces.go:
// StateBackend (keyed state), SnapshotStore (where checkpoints go), Source,
// Sink, Operator (a Wasm instance or a native SDK operator) and Clock. Each has
// an in-memory twin in runtime/memory, which is what lets the simulation test
// run a whole job with crashes in one process from a seed.
//
// The pieces:
//   - job.go: the Job graph and its validation.
//   - keys.go: the state key layout and key-group arithmetic.
//   - the subtask loops (source, operator, sink) with barrier alignment,
//     watermarks and timers, and the checkpoint coordinator;
//   - recovery: a failed attempt is torn down and the job restarts from the
//     newest complete checkpoint that passes its checksums.
//   - fencing: in a cluster, Config.Fence (a CheckpointFence, which
//     coord.Fence implements with the leader's epoch) claims the job before
//     each attempt restores and admits each checkpoint before its manifest is
//     written and its sinks commit; ErrFenced stops the job of a deposed
//     leader without committing or restarting. Nil in a single process.
package runtime

// Package kafka is Weir's Apache Kafka connector: a source that reads a topic
// and an exactly-once transactional sink that writes one, with
// github.com/twmb/franz-go.
//
// # Source (kind kafka)
//
// One split per partition of the topic, named "<topic>/<partition>" (four
// digits). A split's position is the next offset to read, 8 bytes big-endian,
// and lives in Weir's checkpoints: on restore each partition rewinds to its
// checkpointed offset, on any subtask. Records are fetched with
// isolation.level=read_committed, so records of open or aborted transactions
// are never read; the commit and abort markers are fetched too (and dropped)
// so that the position moves past them. A record becomes an entry with the
// record's key, value, headers and timestamp (ms). Options: brokers (or
// brokersEnv, default WEIR_KAFKA_BROKERS), topic, startOffset (earliest or
// latest, for a partition without a checkpointed position), bounded (stop at
// the last stable offset seen when the reader opened) and group (a consumer
// group whose offsets are set, one barrier late, to the checkpointed
// positions: for lag monitoring only; Weir never reads them back). The list of
// partitions is read at every (re)start; partitions added while a job runs
// are read after its next restart.
//
// # Sink (kind kafka)
//
// Each sink subtask writes the records between two checkpoint barriers in one
// Kafka transaction, on a producer whose transactional id is
// <prefix>-<subtask>-<restored checkpoint>-<n> (prefix: option
// transactionalIdPrefix, default weir-<job>-<sink>). At the barrier,
// PreCommit flushes the producer, so every record is in the partition logs,
// and returns the committable (transactional id, producer id, epoch); the
// transaction stays open and the producer is closed. When the checkpoint is
// complete, Commit sends EndTxn(commit) with that id and epoch from the sink's
// own connection: the coordinator does not care which connection ends a
// transaction, so a restarted process commits it just the same in Recover.
// Commit returns once the commit markers are written (the records are then
// visible to read_committed readers); a repeated commit is answered as a
// retry, which makes Commit and Recover idempotent.
//
// Recover, after committing the restored checkpoint's transactions, lists the
// broker's open transactions (ListTransactions) and aborts every one whose id
// has the sink's prefix, whatever subtask, parallelism or attempt opened it,
// by initializing a producer on its id: that aborts it and bumps the epoch,
// fencing a producer that might still be alive. So a job killed before its
// first checkpoint and restarted at a lower parallelism leaves no open
// transaction behind to block readers.
//
// Ids are reused within an attempt, from the lowest free n, once a later
// checkpoint than the one that committed them is complete (until then a
// restore could hand their committable to Recover); a restart uses the ids of
// the checkpoint it restored, so that the committables it restores never
// share an id with its own transactions. The broker aborts a transaction that
// stays open longer than transactionTimeout (default 15m): the spec is
// rejected when checkpoint.interval + checkpoint.timeout + restart.delay is not
// shorter, Recover refuses a timeout above the broker's
// transaction.max.timeout.ms, and a transaction found aborted at Commit is an
// error, never a silent loss: it wraps runtime.ErrOutputLost, so the job
// fails at once instead of restarting into the same refusal. ReadMetrics returns the sinks' counters.
//
// # Ack target (kind kafka)
//
// Acks writes a job's ACK/NACKs to a topic: each runtime.AckBatch piece (cut
// by runtime.AckPieces at multiples of option batch, default 1000) is one
// record, keyed by the piece's stable id, with the piece as JSON (the nats
// target's format). A restart's redelivery writes a second copy under the
// same key; consumers keep one record per key, or the topic is compacted
// (createTopic creates it so), for exactly one status per message
// (docs/acks.md, docs/RATIONALE.md). Options: brokers or brokersEnv, topic,
// batch, createTopic.
package kafka

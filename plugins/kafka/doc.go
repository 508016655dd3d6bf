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
package kafka

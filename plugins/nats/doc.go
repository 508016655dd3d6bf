// Package nats is Weir's NATS JetStream connector: a source that reads a
// stream by stream sequence, and a sink that publishes records to a stream
// exactly once, and a job's ack target ([NewAcks]). The composition root
// registers [NewSource], [NewSink] and [NewAcks] under the kind "nats". It uses nats.go's jetstream package; its tests run
// a real nats-server in the test process (package natstest), and package
// embedded runs one inside `weir server`.
//
// # Connection
//
//	url     the server URL, nats://host:4222 (several separated by ',').
//	urlEnv  the environment variable that holds it instead (default
//	        WEIR_NATS_URL, used when url is not given).
//
// Connections reconnect without limit; calls in flight during a broker
// restart fail, which fails the job attempt, and the job restarts from its
// checkpoint.
//
// # Source options
//
//	stream     required: the stream to read.
//	subjects   subject filters, one split each (default: one split, the
//	           whole stream). Splits are "STREAM" or "STREAM:FILTER".
//	stopAtEnd  true: a split ends (io.EOF) at the last sequence its
//	           stream (or filter) had when the split opened.
//	onGap      fail (default) or log; see Gaps.
//	readWait   how long Read waits for a first message (default 20ms).
//
// A record's value is the message data; its key is the Weir-Key header, or
// the subject when there is none; its timestamp is the Weir-Timestamp header
// (ms since the epoch), or the time the stream stored the message. A message
// with the header Weir-Records: lines holds one record per non-empty line.
// The position of a split is the stream sequence of the last message
// returned whole (8 bytes, big-endian), or inside a message of lines its
// sequence and the lines returned (16 bytes). Open starts an ordered consumer (ephemeral: nothing is
// kept on the server) at the sequence after it, so a restored job rewinds to
// its checkpoint, on any subtask. No consumer state on the server is needed
// for correctness; nothing is acknowledged.
//
// # Gaps
//
// A whole-stream split expects the sequence after its position. When
// messages were removed before the job read them (retention limits, a purge,
// a delete), the next sequence is higher: the reader reports the missing
// range, at Open (the stream's first sequence is past the position) or at
// the message after the gap. With onGap fail (the default) that is an error
// naming the sequences, so the job does not go on silently without them;
// with onGap log it is a warning and the weir_nats_source_gap_messages_total
// metric, and the job goes on. A subject-filtered split cannot tell: its
// sequences skip the other subjects' messages anyway.
//
// # Sink options
//
//	stream         required: the target stream.
//	subject        required: the subject records are published to.
//	keySubject     true: publish to subject.<key> (keys must then be
//	               non-empty subject tokens).
//	createStream   true: create the target stream if it is missing, on
//	               subject (or subject.>), file storage, duplicate window 2m.
//	id             names the sink's staged transactions (default: the
//	               stream). Sinks sharing a staging stream need different ids:
//	               recovery aborts every pending transaction of its id.
//	stagingStream  the stream holding transactions between pre-commit and
//	               commit (default WEIR_STAGING, created if missing, on
//	               subjects weir-staging.<stagingStream>.>).
//	maxPending     unacknowledged async publishes per connection (default
//	               4096).
//
// Messages carry the value as data and the Weir-Key and Weir-Timestamp
// headers, so the source reads back the same records.
//
// # Exactly once
//
// JetStream has no transactions, and a record published to the target is
// visible at once. So a writer stages its transaction instead: the records
// between two checkpoint barriers go, in batches of up to 256 KiB, to its own
// staging subject weir-staging.<stagingStream>.<id>.<subtask>.<writer>.<txn>.
// At the barrier, PreCommit waits for every staging ack (and fails if one
// failed) and returns the committable: the subject and how many batches and
// records it holds. When the checkpoint is complete, Commit reads the staged
// batches and publishes each record to the target with the Nats-Msg-Id
// "<job>/<sink>/<subtask>/<checkpoint>/<writer>-<txn>/<index>", waits for
// every ack, and then purges the staging subject. A commit that finds its
// subject empty was done before. A commit cut short after some publishes (a
// crash, a broker restart) is repeated by the retry or by Recover with the
// same ids, and JetStream drops the repeats (weir_nats_sink_duplicates_total)
// as long as the repeat comes within the target stream's duplicate window.
// Recover commits the restored checkpoint's committables and purges every
// other staged transaction of the id. The target stream thus holds each
// record of each completed checkpoint once, and nothing of the others. A
// commit that finds only some of its staged batches (limits or deletes on the
// staging stream) fails with an error that wraps runtime.ErrOutputLost: the
// job stops instead of restarting into the same loss.
//
// Recover refuses a target stream whose duplicate window is shorter than a
// repeat can take: the commit timeout (60s) plus the job's restart.delay plus
// 30s for the restarted job to reach Recover. A process that stays down
// longer than the window in the middle of a commit (a machine that is off for
// minutes) can duplicate that commit's records; raise duplicate_window for
// such deployments.
//
// # Ack target options
//
//	stream        required: the stream that holds the statuses.
//	subject       required: the subject every status is published to.
//	createStream  true: create the stream if it is missing.
//	batch         statuses per stream message (default 1000, 1..100000).
//
// Each stream message is a runtime.AckBatch as JSON: the statuses of up to
// batch messages of one split (cut at multiples of batch, and halved while
// over 256 KiB), with Nats-Msg-Id set to its stable id: the runtime delivers
// a restored checkpoint's statuses again, and the stream's duplicate window,
// which must cover RecoveryWindow, drops the repeats (docs/acks.md).
//
// # HTTP ingest
//
// [Ingest] takes POSTed records into a stream per endpoint,
// WEIR_INGEST_<endpoint>, one message per request (header Weir-Records:
// lines for JSON lines, so the source splits it), and answers 202 only after
// the stream acknowledged it; its NewSource is the source kind "http" of
// `weir server`: a nats source over the endpoint's stream. See docs/api.md.
//
// Output committed by checkpoints after the restored one stays: a restore
// from an older checkpoint (a savepoint, a fallback from a corrupt one)
// publishes the records it replays again.
package nats

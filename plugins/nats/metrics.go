package nats

import "sync/atomic"

// Metrics counts what the connector did in this process, for the composition
// root to export (cmd/weir puts them on /metrics as weir_nats_*). The plugin
// does not import a metrics library: runtime plugins stay free of it.
var Metrics struct {
	// SourceMessages is the number of messages the source returned as records.
	SourceMessages atomic.Uint64
	// SourceGapMessages is the number of stream sequences the source found
	// missing (see SourceOptions.OnGap).
	SourceGapMessages atomic.Uint64
	// SinkStaged is the number of records the sink's writers staged (acked by
	// the staging stream) at their pre-commits.
	SinkStaged atomic.Uint64
	// SinkPublished is the number of records the sink published to the target
	// stream at commits, acked.
	SinkPublished atomic.Uint64
	// SinkDuplicates is the number of those publishes the target stream
	// dropped as duplicates of a Nats-Msg-Id it had: a commit repeated after
	// a crash or a retry, deduplicated.
	SinkDuplicates atomic.Uint64
	// SinkPublishErrors is the number of publishes (staging or target) that
	// failed; each fails its pre-commit or commit.
	SinkPublishErrors atomic.Uint64
	// IngestRequests and IngestRecords count the HTTP ingest requests stored
	// (answered 202, repeats of an Idempotency-Key not counted) and their
	// records; IngestErrors the requests the stream did not acknowledge (503).
	IngestRequests atomic.Uint64
	IngestRecords  atomic.Uint64
	IngestErrors   atomic.Uint64
}

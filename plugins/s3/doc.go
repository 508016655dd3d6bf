// Package s3 is Weir's S3 connector (AWS S3, MinIO and other S3-compatible
// stores, through github.com/minio/minio-go/v7): a runtime.SnapshotStore that
// keeps checkpoints and savepoints in a bucket, and an exactly-once files sink.
// The composition root registers [NewSink] under the sink kind "s3" and opens
// a [Store] for `weir run --snapshots s3://BUCKET/PREFIX`.
//
// Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (never
// from a job spec). Every request is retried with bounded exponential backoff
// (see maxRetries) and then fails, so a store that stays down fails the
// checkpoint rather than hanging it.
//
// # Snapshot store
//
// Object name N is key PREFIX/N. Put reads the whole object first (in memory
// up to 16 MiB, the rest in a temporary file) and then sends it with one PUT,
// or a multipart upload for big objects: either becomes visible atomically, so
// a reader that fails half way leaves nothing. S3 is strongly consistent for
// reads after writes and for listings, which the runtime relies on when it
// writes a checkpoint's manifest after all its state files.
//
// # Sink
//
// Options:
//
//	endpoint     required. host:port of the S3 API, without scheme.
//	insecure     use http instead of https (default false).
//	region       the bucket's region (default: discovered).
//	bucket       required. The bucket (it must exist).
//	path         key prefix of the output ("out/run1"; default: the bucket's
//	             root).
//	format       "value" (default), "keyvalue" or "json": the same lines as
//	             the file sink (internal/lineformat).
//	prefix       the start of every object name (default "part"), as in the
//	             file sink.
//	partSizeMiB  size of the parts of the uploads in MiB, 5 to 5120 (default
//	             8); also how much a writer buffers in memory before it spills
//	             to a temporary file.
//
// Exactly once. The committed output is exactly the objects
// PATH/<prefix>-<checkpoint>-<subtask> (checkpoint as at least 10 digits,
// subtask as at least 4: part-0000000042-0003). Readers must ignore
// PATH/.weir-pending/ and keys with other names. The protocol:
//
//   - A writer collects the lines of the records since the last barrier.
//   - PreCommit(checkpoint) writes an empty marker
//     PATH/.weir-pending/<name>.<token>, starts a multipart upload of the
//     object (its metadata carries the random token), uploads the lines as
//     parts and returns a committable (JSON: checkpoint, subtask, bucket,
//     object, upload id, token, part numbers and ETags, byte and record
//     counts). An incomplete upload is invisible. With nothing written it
//     returns nil and uploads nothing.
//   - Commit completes the uploads, which makes each object appear whole, and
//     deletes their markers. It is idempotent: when the upload is gone and the
//     object carries the committable's token, it was completed before. When
//     the upload or some of its parts are gone (NoSuchUpload, InvalidPart) and
//     the object is not its own, the output is lost: Commit fails with an
//     [OutputLostError] naming the object, upload and checkpoint, which wraps
//     runtime.ErrOutputLost, so the job fails instead of restarting into it.
//   - Recover(checkpoint, committables) commits those committables, aborts
//     every multipart upload of a key that a pending marker of this sink names
//     (work of checkpoints that never completed) and deletes those markers,
//     and deletes the objects of this sink whose checkpoint is greater than the
//     restored one, which the restarted job writes again. Recover(0, nil)
//     deletes every object with this path and prefix: give each job its own.
//
// The marker exists because S3 cannot be asked which uploads are pending
// under a prefix on every server (MinIO lists the uploads of one exact key
// only); it is written before the upload starts, so a crash at any moment
// leaves a marker for every upload Recover must abort.
package s3

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
//	partSizeMiB  size of the parts in MiB, 5 to 5120 (default 8), when a
//	             staged object is big enough to be sent as a multipart
//	             upload; also how much a writer buffers in memory before it
//	             spills to a temporary file.
//
// Exactly once. The committed output is exactly the objects
// PATH/<prefix>-<checkpoint>-<subtask> (checkpoint as at least 10 digits,
// subtask as at least 4: part-0000000042-0003). Readers must ignore
// PATH/.weir-pending/ and keys with other names. The protocol:
//
//   - A writer collects the lines of the records since the last barrier.
//   - PreCommit(checkpoint) writes them, with one PutObject, to the staged
//     object PATH/.weir-pending/<name>.<token> (its metadata carries the
//     random token) and returns a committable (JSON: checkpoint, subtask,
//     bucket, object, staged object, token, byte and record counts). With
//     nothing written it returns nil and writes nothing.
//   - Commit copies each staged object to its object on the server
//     (ComposeObject: one copy, or a multipart copy for big ones), with the
//     token in the object's metadata, which makes the object appear whole,
//     and then deletes the staged object. It is idempotent: a staged object
//     that is still there is copied again (a copy cut off by a restart of the
//     store is retried); when it is gone and the object carries the
//     committable's token, it was committed before. When it is gone and the
//     object is not its own, the output is lost: Commit fails with an
//     [OutputLostError] naming the object, staged object and checkpoint,
//     which wraps runtime.ErrOutputLost, so the job fails instead of
//     restarting into it.
//   - Recover(checkpoint, committables) commits those committables, deletes
//     every other staged object of this sink (work of checkpoints that never
//     completed), and deletes the objects of this sink whose checkpoint is
//     greater than the restored one, which the restarted job writes again.
//     Recover(0, nil) deletes every object with this path and prefix: give
//     each job its own.
//
// The checkpoint's output stays in the store as the staged object until its
// final object exists, so nothing the store does while the sink commits
// (a single MinIO server stopped in the middle of a CompleteMultipartUpload
// was seen to lose the upload) can lose it: see "Why a staged object and a
// server-side copy?" in docs/RATIONALE.md. The price is a second write of
// the bytes, inside the store.
//
// Older committables (before staged objects: a multipart upload id and its
// parts, with an empty marker under .weir-pending/) still commit: Commit
// completes their uploads, and Recover aborts the uploads of the keys that
// leftover markers name, so a job restored from a checkpoint of an older
// version keeps exactly-once.
package s3

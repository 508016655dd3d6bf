package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/weirstream/weir/internal/lineformat"
	"github.com/weirstream/weir/runtime"
)

// Limits and names of the sink.
const (
	// DefaultPrefix is the default of the prefix option.
	DefaultPrefix = "part"
	// minPartSizeMiB is S3's smallest part (except the last one of an upload).
	minPartSizeMiB = 5
	// maxPartSizeMiB is S3's biggest part.
	maxPartSizeMiB = 5 << 10
	// defaultPartSizeMiB is the default of the partSizeMiB option.
	defaultPartSizeMiB = 8
	// maxParts is S3's limit of parts in one upload.
	maxParts = 10000
	// tokenBytes is the size of the random token that marks each transaction.
	tokenBytes = 8
	// tokenMeta is the user metadata that carries the token into the object,
	// so that a second Commit can tell its own completed object from another.
	tokenMeta = "Weir-Upload"
	// PendingDir is the "directory" under the sink's path that holds the
	// staged object of each transaction not yet committed or abandoned (and,
	// from older versions, empty markers of multipart uploads). Readers of the
	// output must ignore it.
	PendingDir = ".weir-pending/"
	// contentType is the content type of the objects.
	contentType = "text/plain; charset=utf-8"
)

// SinkOptions are the options of the s3 sink in a job spec (see doc.go).
type SinkOptions struct {
	Endpoint    string `json:"endpoint"`
	Insecure    bool   `json:"insecure"`
	Region      string `json:"region"`
	Bucket      string `json:"bucket"`
	Path        string `json:"path"`
	Format      string `json:"format"`
	Prefix      string `json:"prefix"`
	PartSizeMiB int    `json:"partSizeMiB"`
}

// Sink writes records to objects in an S3 bucket, exactly once: each
// checkpoint's records of a subtask become one object, written as a staged
// object at the checkpoint barrier and copied to its final key when the
// checkpoint completes (see doc.go). A Sink is safe for concurrent use.
type Sink struct {
	cli      *minio.Client
	bucket   string
	dir      string // key prefix of the objects: empty or ends in "/"
	format   string
	prefix   string // start of the object names after dir
	partSize int64  // bytes
}

var _ runtime.Sink = (*Sink)(nil)

// NewSink returns the s3 sink that the JSON options opts describe; baseDir is
// unused (keys are not paths). Credentials come from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY. An unknown option or a bad value gives an error that
// names the option. NewSink does not contact the server.
func NewSink(opts json.RawMessage, baseDir string) (runtime.Sink, error) {
	var o SinkOptions
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("s3 sink: %w", err)
	}
	return newSink(o, Conn{Endpoint: o.Endpoint, Insecure: o.Insecure, Region: o.Region})
}

func newSink(o SinkOptions, conn Conn) (*Sink, error) {
	if o.Format == "" {
		o.Format = lineformat.Value
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.PartSizeMiB == 0 {
		o.PartSizeMiB = defaultPartSizeMiB
	}
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("s3 sink: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	if o.Endpoint == "" {
		bad("endpoint", "required: host:port of the S3 API (e.g. 127.0.0.1:9000)")
	}
	if o.Bucket == "" {
		bad("bucket", "required: the bucket the objects go to")
	} else if err := checkBucket(o.Bucket); err != nil {
		bad("bucket", "%v", err)
	}
	if strings.HasPrefix(o.Path, "/") || strings.Contains(o.Path, "//") {
		bad("path", "%q: a key prefix like \"out/run1\", without a leading '/' or an empty segment", o.Path)
	}
	if err := lineformat.Check(o.Format); err != nil {
		bad("format", "%v", err)
	}
	if err := lineformat.CheckPrefix(o.Prefix); err != nil {
		bad("prefix", "%q %v", o.Prefix, err)
	}
	if o.PartSizeMiB < minPartSizeMiB || o.PartSizeMiB > maxPartSizeMiB {
		bad("partSizeMiB", "%d is not between %d and %d (S3's limits of a part)", o.PartSizeMiB, minPartSizeMiB, maxPartSizeMiB)
	}
	var cli *minio.Client
	if o.Endpoint != "" {
		var err error
		if cli, err = conn.client(); err != nil {
			bad("endpoint", "%v", err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	dir := strings.Trim(o.Path, "/")
	if dir != "" {
		dir += "/"
	}
	return &Sink{cli: cli, bucket: o.Bucket, dir: dir, format: o.Format, prefix: o.Prefix, partSize: int64(o.PartSizeMiB) << 20}, nil
}

// objectKey is the key of the object of subtask for checkpoint ckpt.
func (s *Sink) objectKey(ckpt int64, subtask int) string {
	return s.dir + lineformat.PartName(s.prefix, ckpt, subtask)
}

// parseKey returns the checkpoint of an object key of this sink; ok is false
// for any other key.
func (s *Sink) parseKey(key string) (ckpt int64, ok bool) {
	name, found := strings.CutPrefix(key, s.dir)
	if !found || strings.Contains(name, "/") {
		return 0, false
	}
	return lineformat.ParsePartName(s.prefix, name)
}

// markerKey is the key of the staged object (or, for an older committable,
// the empty marker of the upload) of object key with token.
func (s *Sink) markerKey(key, token string) string {
	return s.dir + PendingDir + strings.TrimPrefix(key, s.dir) + "." + token
}

// parseMarker returns the object key a marker key stands for.
func (s *Sink) parseMarker(marker string) (key string, ok bool) {
	name, found := strings.CutPrefix(marker, s.dir+PendingDir)
	i := strings.LastIndexByte(name, '.')
	if !found || i < 0 {
		return "", false
	}
	key = s.dir + name[:i]
	_, ok = s.parseKey(key)
	return key, ok
}

// committable is what PreCommit returns, as JSON: one staged object not yet
// copied to its final key (or, written by an older version, one multipart
// upload not yet completed).
type committable struct {
	Checkpoint int64  `json:"checkpoint"`
	Subtask    int    `json:"subtask"`
	Bucket     string `json:"bucket"`
	Object     string `json:"object"`
	// Staged is the staged object (the pending marker, holding the
	// transaction's lines) that Commit copies to Object.
	Staged string `json:"staged,omitempty"`
	// UploadID and Parts name the multipart upload of an older committable
	// (before staged objects); Commit completes it the old way.
	UploadID string `json:"uploadId,omitempty"`
	Token    string `json:"token"` // also in the object's metadata (tokenMeta)
	Parts    []part `json:"parts,omitempty"`
	Bytes    int64  `json:"bytes"`
	Records  int64  `json:"records"`
}

type part struct {
	Number int    `json:"n"`
	ETag   string `json:"etag"`
}

func (s *Sink) decodeCommittable(checkpointID int64, raw []byte) (committable, error) {
	var c committable
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("not a committable of the s3 sink: %w", err)
	}
	// NB: the committable of an abandoned checkpoint is carried into the next
	// one, so its own checkpoint may be older than the one committing it.
	if c.Checkpoint < 1 || c.Checkpoint > checkpointID {
		return c, fmt.Errorf("committable is of checkpoint %d", c.Checkpoint)
	}
	if c.Bucket != s.bucket {
		return c, fmt.Errorf("committable is for bucket %q, not %q", c.Bucket, s.bucket)
	}
	if ck, ok := s.parseKey(c.Object); !ok || ck != c.Checkpoint {
		return c, fmt.Errorf("object %q is not one of this sink for checkpoint %d (path %q, prefix %q)", c.Object, c.Checkpoint, s.dir, s.prefix)
	}
	switch {
	case c.Staged != "":
		if c.UploadID != "" || c.Staged != s.markerKey(c.Object, c.Token) {
			return c, fmt.Errorf("staged object %q is not the one of %s with token %q", c.Staged, c.Object, c.Token)
		}
	case c.UploadID == "" || len(c.Parts) == 0:
		return c, errors.New("committable has no staged object, and no upload id or no parts")
	}
	return c, nil
}

// OpenWriter returns the writer of subtask info.Subtask.
func (s *Sink) OpenWriter(ctx context.Context, info runtime.SinkInfo) (runtime.SinkWriter, error) {
	if info.Subtask < 0 {
		return nil, fmt.Errorf("s3 sink s3://%s/%s: subtask %d is negative", s.bucket, s.dir, info.Subtask)
	}
	return &sinkWriter{sink: s, subtask: info.Subtask}, nil
}

// Commit copies the staged objects of committables to their final keys (one
// server-side copy each, which makes the object appear whole) and then
// deletes them; an older committable's multipart upload it completes. It is
// idempotent: a staged object that still exists is copied again, and one
// that no longer exists whose object carries its token was committed before.
// A staged object (or upload) that is gone without its object means the
// output is lost: Commit returns an *OutputLostError.
// Commit tries every committable and reports every failure.
func (s *Sink) Commit(ctx context.Context, checkpointID int64, committables [][]byte) error {
	var errs []error
	for i, raw := range committables {
		if len(raw) == 0 {
			continue
		}
		c, err := s.decodeCommittable(checkpointID, raw)
		if err == nil {
			err = s.commitOne(ctx, c)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("s3 sink s3://%s/%s: checkpoint %d: committable %d: %w", s.bucket, s.dir, checkpointID, i, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Sink) commitOne(ctx context.Context, c committable) error {
	if c.Staged == "" {
		return s.completeUpload(ctx, c)
	}
	// NB: a copy is atomic and may be repeated: the staged object stays until
	// the final object exists, so a copy cut off (a store restarting) is
	// simply retried by the next Commit or Recover.
	src := minio.CopySrcOptions{Bucket: s.bucket, Object: c.Staged}
	dst := minio.CopyDestOptions{
		Bucket:          s.bucket,
		Object:          c.Object,
		UserMetadata:    map[string]string{tokenMeta: c.Token, "Content-Type": contentType},
		ReplaceMetadata: true,
	}
	_, err := s.cli.ComposeObject(ctx, dst, src)
	if err == nil {
		return s.deleteMarker(ctx, c.Object, c.Token)
	}
	code := minio.ToErrorResponse(err).Code
	if code != "NoSuchKey" {
		return fmt.Errorf("copy %s to %s: %w", c.Staged, c.Object, err)
	}
	// The staged object is gone: committed, if the object carries the token.
	info, serr := s.cli.StatObject(ctx, s.bucket, c.Object, minio.StatObjectOptions{})
	if serr != nil && !isNotFound(serr, "NoSuchKey") {
		return fmt.Errorf("copy %s to %s: the store answered %s, and checking the object failed: %w", c.Staged, c.Object, code, serr)
	}
	if serr == nil && metaValue(info.UserMetadata, tokenMeta) == c.Token {
		return nil // committed before
	}
	return &OutputLostError{Bucket: s.bucket, Object: c.Object, Staged: c.Staged, Checkpoint: c.Checkpoint, Subtask: c.Subtask, Records: c.Records, Bytes: c.Bytes, Err: err}
}

// completeUpload commits an older committable: a multipart upload.
func (s *Sink) completeUpload(ctx context.Context, c committable) error {
	parts := make([]minio.CompletePart, len(c.Parts))
	for i, p := range c.Parts {
		parts[i] = minio.CompletePart{PartNumber: p.Number, ETag: p.ETag}
	}
	_, err := minio.Core{Client: s.cli}.CompleteMultipartUpload(ctx, s.bucket, c.Object, c.UploadID, parts, minio.PutObjectOptions{})
	if err == nil {
		return s.deleteMarker(ctx, c.Object, c.Token)
	}
	code := minio.ToErrorResponse(err).Code
	if code != codeNoSuchUpload && code != codeInvalidPart {
		return fmt.Errorf("complete upload of %s: %w", c.Object, err)
	}
	// The upload or some of its parts are gone: lost, unless an earlier
	// Commit completed it (the object then carries its token).
	info, serr := s.cli.StatObject(ctx, s.bucket, c.Object, minio.StatObjectOptions{})
	if serr != nil && !isNotFound(serr, "NoSuchKey") {
		return fmt.Errorf("complete upload of %s: the store answered %s, and checking the object failed: %w", c.Object, code, serr)
	}
	if serr == nil && metaValue(info.UserMetadata, tokenMeta) == c.Token {
		return s.deleteMarker(ctx, c.Object, c.Token) // completed before
	}
	return &OutputLostError{Bucket: s.bucket, Object: c.Object, UploadID: c.UploadID, Checkpoint: c.Checkpoint, Subtask: c.Subtask, Records: c.Records, Bytes: c.Bytes, Err: err}
}

// S3's error codes for an upload that CompleteMultipartUpload cannot find
// whole.
const (
	codeNoSuchUpload = "NoSuchUpload" // the upload is gone (aborted, expired, or lost)
	codeInvalidPart  = "InvalidPart"  // a part of it is gone (or has another ETag)
)

// OutputLostError is the error of Commit (and so of Recover) when the store
// no longer holds the staged object of a complete checkpoint's part file
// (NoSuchKey), or, for an older committable, its multipart upload or some of
// its parts (NoSuchUpload, InvalidPart), and the object is not there either.
// It happens when something deletes the staged object or aborts the upload
// behind the sink's back (a lifecycle rule, a person), or when the store
// loses it (a single MinIO server stopped, even with SIGTERM, while it
// completes a multipart upload: why the sink stages objects, see
// TestSinkCommitDuringMinIOShutdown). The records of that checkpoint and subtask
// are not in the bucket, and no retry can put them there: the error wraps
// runtime.ErrOutputLost, so the job fails at once instead of restarting into
// the same error.
type OutputLostError struct {
	Bucket, Object string
	Staged         string // the staged object, or "" for an older committable
	UploadID       string // the multipart upload of an older committable
	Checkpoint     int64  // the checkpoint whose output the object is
	Subtask        int
	Records, Bytes int64 // what the lost output held
	Err            error // the store's answer to the copy (or CompleteMultipartUpload)
}

func (e *OutputLostError) Error() string {
	what := "its staged object " + e.Staged + " is gone"
	if e.Staged == "" {
		what = "its multipart upload " + e.UploadID + " is gone or has lost parts"
	}
	return fmt.Sprintf("output of checkpoint %d lost in the store: part file s3://%s/%s (subtask %d, %d records, %d bytes) cannot be committed: %s, and the object does not exist (%s: %v); "+
		"no restart can commit it, so the job stops: to write those records again, run the job anew (a new data directory) from a savepoint taken before checkpoint %d, or from nothing (see the s3 sink in docs/jobspec.md)",
		e.Checkpoint, e.Bucket, e.Object, e.Subtask, e.Records, e.Bytes, what, minio.ToErrorResponse(e.Err).Code, e.Err, e.Checkpoint)
}

// Unwrap returns runtime.ErrOutputLost and the store's error.
func (e *OutputLostError) Unwrap() []error { return []error{runtime.ErrOutputLost, e.Err} }

func (s *Sink) deleteMarker(ctx context.Context, key, token string) error {
	err := s.cli.RemoveObject(ctx, s.bucket, s.markerKey(key, token), minio.RemoveObjectOptions{})
	if err != nil && !isNotFound(err, "NoSuchKey") {
		return fmt.Errorf("delete the pending marker of %s: %w", key, err)
	}
	return nil
}

// metaValue returns the user metadata entry name, whatever its case.
func metaValue(m map[string]string, name string) string {
	for k, v := range m {
		if strings.EqualFold(k, name) || strings.EqualFold(k, "X-Amz-Meta-"+name) {
			return v
		}
	}
	return ""
}

// Recover prepares the output for a job restarted from checkpointID: it
// commits committables (those of checkpointID), deletes every other staged
// object of this sink (same path and prefix; other keys are left alone) and
// aborts the multipart uploads of the keys that older markers name, and deletes the objects of this sink whose checkpoint is after
// checkpointID, which the restarted job will write again.
func (s *Sink) Recover(ctx context.Context, checkpointID int64, committables [][]byte) error {
	if err := s.Commit(ctx, checkpointID, committables); err != nil {
		return fmt.Errorf("s3 sink: recover checkpoint %d: %w", checkpointID, err)
	}
	var errs []error
	// NB: what is left under PendingDir is work of checkpoints that never
	// completed: staged objects, and the empty markers that older versions
	// wrote before starting an upload. MinIO lists the multipart uploads of
	// one exact key only, not of a prefix, so the keys with uploads to abort
	// come from those markers.
	for m := range s.cli.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.dir + PendingDir + s.prefix + "-"}) {
		if m.Err != nil {
			errs = append(errs, fmt.Errorf("list pending markers: %w", m.Err))
			break
		}
		key, ok := s.parseMarker(m.Key)
		if !ok {
			continue
		}
		// The uploads of an older version's marker, and one that minio-go's
		// PutObject of a big staged object left half made.
		if err := errors.Join(s.abortUploads(ctx, key), s.abortUploads(ctx, m.Key)); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.cli.RemoveObject(ctx, s.bucket, m.Key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err, "NoSuchKey") {
			errs = append(errs, fmt.Errorf("delete pending marker %s: %w", m.Key, err))
		}
	}
	for o := range s.cli.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.dir + s.prefix + "-"}) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("list objects: %w", o.Err))
			break
		}
		if ckpt, ok := s.parseKey(o.Key); ok && ckpt > checkpointID {
			if err := s.cli.RemoveObject(ctx, s.bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("delete %s: %w", o.Key, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("s3 sink s3://%s/%s: recover checkpoint %d: %w", s.bucket, s.dir, checkpointID, err)
	}
	return nil
}

// abortUploads aborts every multipart upload of key (those of older versions,
// and any that minio-go's PutObject of a big staged object left half made).
// The committed ones are complete by now, so whatever is left is work of an
// attempt that is gone.
func (s *Sink) abortUploads(ctx context.Context, key string) error {
	for u := range s.cli.ListIncompleteUploads(ctx, s.bucket, key, false) {
		if u.Err != nil {
			return fmt.Errorf("list uploads of %s: %w", key, u.Err)
		}
		if u.Key != key {
			continue
		}
		if err := (minio.Core{Client: s.cli}).AbortMultipartUpload(ctx, s.bucket, key, u.UploadID); err != nil && !isNotFound(err, "NoSuchUpload") {
			return fmt.Errorf("abort upload %s of %s: %w", u.UploadID, key, err)
		}
	}
	return nil
}

// sinkWriter collects the lines of one subtask's current transaction: in
// memory up to one part, the rest in a temporary file. PreCommit stages them.
type sinkWriter struct {
	sink    *Sink
	subtask int

	buf     []byte   // lines not yet in spill
	spill   *os.File // nil until the transaction outgrows one part
	bytes   int64    // of the transaction
	records int64
	line    []byte
	err     error // a failed write leaves the writer unusable
}

// Write formats each record of batch as one line and adds it to the
// transaction. A record the format cannot represent as one line is an error
// naming the entry.
func (w *sinkWriter) Write(ctx context.Context, batch []byte) error {
	if w.err != nil {
		return w.err
	}
	var err error
	w.line, err = lineformat.Lines(batch, w.sink.format, w.line, func(line []byte) error {
		w.buf = append(w.buf, line...)
		w.bytes += int64(len(line))
		w.records++
		if int64(len(w.buf)) >= w.sink.partSize {
			return w.spillBuf()
		}
		return nil
	})
	var be *lineformat.BatchError
	if errors.As(err, &be) {
		return fmt.Errorf("s3 sink: subtask %d: %w", w.subtask, err)
	}
	return err
}

// spillBuf moves buf to the spill file, so that a writer holds at most about
// one part in memory.
func (w *sinkWriter) spillBuf() error {
	if w.spill == nil {
		f, err := os.CreateTemp("", "weir-s3-sink-*")
		if err != nil {
			w.err = fmt.Errorf("s3 sink: subtask %d: spill file: %w", w.subtask, err)
			return w.err
		}
		// NB: removed at once; the open file stays usable and a crash leaves nothing.
		os.Remove(f.Name())
		w.spill = f
	}
	if _, err := w.spill.Write(w.buf); err != nil {
		w.err = fmt.Errorf("s3 sink: subtask %d: spill file: %w", w.subtask, err)
		return w.err
	}
	w.buf = w.buf[:0]
	return nil
}

// PreCommit writes the transaction as the staged object
// <path>/.weir-pending/<prefix>-<checkpoint>-<subtask>.<token> (one PutObject;
// readers ignore the pending dir) and returns the committable naming it and
// the object <path>/<prefix>-<checkpoint>-<subtask> that Commit copies it to.
// With nothing written since the last PreCommit it returns nil and writes
// nothing.
func (w *sinkWriter) PreCommit(ctx context.Context, checkpointID int64) ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	if checkpointID < 1 {
		return nil, fmt.Errorf("s3 sink: subtask %d: checkpoint id %d is not positive", w.subtask, checkpointID)
	}
	if w.bytes == 0 {
		return nil, nil
	}
	c, err := w.stage(ctx, checkpointID)
	if err != nil {
		// NB: the transaction is lost; the runtime restarts the job from the last
		// checkpoint, and Recover deletes what was staged.
		w.err = fmt.Errorf("s3 sink: subtask %d: pre-commit checkpoint %d: %w", w.subtask, checkpointID, err)
		return nil, w.err
	}
	w.reset()
	return json.Marshal(c)
}

func (w *sinkWriter) stage(ctx context.Context, checkpointID int64) (committable, error) {
	s := w.sink
	var tok [tokenBytes]byte
	rand.Read(tok[:])
	c := committable{
		Checkpoint: checkpointID,
		Subtask:    w.subtask,
		Bucket:     s.bucket,
		Object:     s.objectKey(checkpointID, w.subtask),
		Token:      hex.EncodeToString(tok[:]),
		Bytes:      w.bytes,
		Records:    w.records,
	}
	if w.bytes > s.partSize*maxParts {
		return c, fmt.Errorf("%d bytes in one checkpoint is more than %d parts of partSizeMiB %d", w.bytes, maxParts, s.partSize>>20)
	}
	// NB: the staged object is the pending marker itself: one PutObject makes
	// it appear whole (minio-go uses a multipart upload for a big one, and a
	// failure then only abandons the checkpoint; Recover deletes what is left).
	c.Staged = s.markerKey(c.Object, c.Token)
	var data io.Reader = bytes.NewReader(w.buf)
	if w.spill != nil {
		if _, err := w.spill.Seek(0, io.SeekStart); err != nil {
			return c, fmt.Errorf("spill file: %w", err)
		}
		data = io.MultiReader(w.spill, bytes.NewReader(w.buf))
	}
	if _, err := s.cli.PutObject(ctx, s.bucket, c.Staged, data, w.bytes, minio.PutObjectOptions{
		ContentType:  contentType,
		UserMetadata: map[string]string{tokenMeta: c.Token},
		PartSize:     uint64(s.partSize),
	}); err != nil {
		return c, fmt.Errorf("write the staged object of %s: %w", c.Object, err)
	}
	return c, nil
}

// reset empties the transaction.
func (w *sinkWriter) reset() {
	w.buf = w.buf[:0]
	w.bytes, w.records = 0, 0
	if w.spill != nil {
		w.spill.Close()
		w.spill = nil
	}
}

// Close drops what was written since the last PreCommit: it can never be
// committed, and nothing of it was staged.
func (w *sinkWriter) Close() error {
	w.reset()
	return nil
}

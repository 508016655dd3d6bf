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
	// tokenBytes is the size of the random token that marks each upload.
	tokenBytes = 8
	// tokenMeta is the user metadata that carries the token into the object,
	// so that a second Commit can tell its own completed object from another.
	tokenMeta = "Weir-Upload"
	// PendingDir is the "directory" under the sink's path that holds a marker
	// object per multipart upload not yet completed or aborted. Readers of the
	// output must ignore it.
	PendingDir = ".weir-pending/"
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
// checkpoint's records of a subtask become one object, uploaded as a multipart
// upload at the checkpoint barrier and completed when the checkpoint is (see
// doc.go). A Sink is safe for concurrent use.
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

// markerKey is the key of the marker of an upload of object key with token.
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

// committable is what PreCommit returns, as JSON: one uploaded, not yet
// completed multipart upload.
type committable struct {
	Checkpoint int64  `json:"checkpoint"`
	Subtask    int    `json:"subtask"`
	Bucket     string `json:"bucket"`
	Object     string `json:"object"`
	UploadID   string `json:"uploadId"`
	Token      string `json:"token"` // also in the upload's metadata (tokenMeta)
	Parts      []part `json:"parts"`
	Bytes      int64  `json:"bytes"`
	Records    int64  `json:"records"`
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
	if c.UploadID == "" || len(c.Parts) == 0 {
		return c, errors.New("committable has no upload id or no parts")
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

// Commit completes the multipart uploads of committables, which makes their
// objects visible. It is idempotent: an upload that no longer exists whose
// object carries the upload's token was completed before. An upload that is
// gone, or has lost parts, without its object means the output is lost:
// Commit returns an *OutputLostError.
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
// no longer holds the upload of a complete checkpoint's part file: the
// upload is gone (NoSuchUpload) or some of its parts are (InvalidPart), and
// the object is not there either. It happens when something aborts the
// upload behind the sink's back (a lifecycle rule that expires incomplete
// uploads, a person) or when the store loses it (a single MinIO server killed
// while it completes the upload, even with SIGTERM: see
// TestSinkCommitDuringMinIOShutdown). The records of that checkpoint and subtask
// are not in the bucket, and no retry can put them there: the error wraps
// runtime.ErrOutputLost, so the job fails at once instead of restarting into
// the same error.
type OutputLostError struct {
	Bucket, Object, UploadID string
	Checkpoint               int64 // the checkpoint whose output the object is
	Subtask                  int
	Records, Bytes           int64 // what the lost upload held
	Err                      error // the store's answer to CompleteMultipartUpload
}

func (e *OutputLostError) Error() string {
	return fmt.Sprintf("output of checkpoint %d lost in the store: part file s3://%s/%s (subtask %d, %d records, %d bytes) cannot be committed: its multipart upload %s is gone or has lost parts, and the object does not exist (%s: %v); "+
		"no restart can commit it, so the job stops: to write those records again, run the job anew (a new data directory) from a savepoint taken before checkpoint %d, or from nothing (see the s3 sink in docs/jobspec.md)",
		e.Checkpoint, e.Bucket, e.Object, e.Subtask, e.Records, e.Bytes, e.UploadID, minio.ToErrorResponse(e.Err).Code, e.Err, e.Checkpoint)
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
// completes the uploads of committables (those of checkpointID), aborts every
// other multipart upload of this sink (same path and prefix; other keys are
// left alone), and deletes the objects of this sink whose checkpoint is after
// checkpointID, which the restarted job will write again.
func (s *Sink) Recover(ctx context.Context, checkpointID int64, committables [][]byte) error {
	if err := s.Commit(ctx, checkpointID, committables); err != nil {
		return fmt.Errorf("s3 sink: recover checkpoint %d: %w", checkpointID, err)
	}
	var errs []error
	// NB: MinIO lists the multipart uploads of one exact key only, not of a
	// prefix, so the keys with uploads to abort come from the pending markers
	// that PreCommit writes before it starts an upload.
	for m := range s.cli.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.dir + PendingDir + s.prefix + "-"}) {
		if m.Err != nil {
			errs = append(errs, fmt.Errorf("list pending markers: %w", m.Err))
			break
		}
		key, ok := s.parseMarker(m.Key)
		if !ok {
			continue
		}
		if err := s.abortUploads(ctx, key); err != nil {
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

// abortUploads aborts every multipart upload of key. The committed ones are
// complete by now, so whatever is left is work of an attempt that is gone.
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
// memory up to one part, the rest in a temporary file. PreCommit uploads them.
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

// PreCommit uploads the transaction as the parts of a new multipart upload of
// object <path>/<prefix>-<checkpoint>-<subtask>, which stays invisible until
// Commit completes it, and returns the committable naming the upload and its
// parts. With nothing written since the last PreCommit it returns nil and
// starts no upload.
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
	c, err := w.upload(ctx, checkpointID)
	if err != nil {
		// NB: the transaction is lost; the runtime restarts the job from the last
		// checkpoint, and Recover aborts the half-made upload.
		w.err = fmt.Errorf("s3 sink: subtask %d: pre-commit checkpoint %d: %w", w.subtask, checkpointID, err)
		return nil, w.err
	}
	w.reset()
	return json.Marshal(c)
}

func (w *sinkWriter) upload(ctx context.Context, checkpointID int64) (committable, error) {
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
	// The marker first: a crash after the upload starts must leave a trace that
	// Recover finds.
	if _, err := s.cli.PutObject(ctx, s.bucket, s.markerKey(c.Object, c.Token), bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
		return c, fmt.Errorf("write the pending marker of %s: %w", c.Object, err)
	}
	core := minio.Core{Client: s.cli}
	id, err := core.NewMultipartUpload(ctx, s.bucket, c.Object, minio.PutObjectOptions{
		ContentType:  "text/plain; charset=utf-8",
		UserMetadata: map[string]string{tokenMeta: c.Token},
	})
	if err != nil {
		return c, fmt.Errorf("start upload of %s: %w", c.Object, err)
	}
	c.UploadID = id
	put := func(data []byte) error {
		n := len(c.Parts) + 1
		p, err := core.PutObjectPart(ctx, s.bucket, c.Object, id, n, bytes.NewReader(data), int64(len(data)), minio.PutObjectPartOptions{})
		if err != nil {
			return fmt.Errorf("upload part %d of %s: %w", n, c.Object, err)
		}
		c.Parts = append(c.Parts, part{Number: n, ETag: p.ETag})
		return nil
	}
	if w.spill == nil {
		// Write spills at partSize, so without a spill file this is one part.
		return c, put(w.buf)
	}
	// NB: every part but the last must be a full part (S3 rejects smaller
	// ones), so the spill file and the buffer are read as one stream.
	if _, err := w.spill.Seek(0, io.SeekStart); err != nil {
		return c, fmt.Errorf("spill file: %w", err)
	}
	data := io.MultiReader(w.spill, bytes.NewReader(w.buf))
	chunk := make([]byte, s.partSize)
	for {
		n, err := io.ReadFull(data, chunk)
		if n > 0 {
			if err := put(chunk[:n]); err != nil {
				return c, err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return c, fmt.Errorf("spill file: %w", err)
		}
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
// committed, and nothing of it was uploaded.
func (w *sinkWriter) Close() error {
	w.reset()
	return nil
}

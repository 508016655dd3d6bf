package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/weirstream/weir/runtime"
)

// Sizes of the snapshot store.
const (
	// storeMemBytes is how much of an object Put holds in memory before it
	// spools the rest to a temporary file. The object must be complete before it
	// is sent, so that a reader failing half way leaves nothing in the bucket.
	storeMemBytes = 16 << 20
	// storePartBytes is the part size of the multipart uploads of objects
	// bigger than storeMemBytes.
	storePartBytes = 16 << 20
)

// Store is a runtime.SnapshotStore in an S3 bucket under a key prefix. Objects
// map to keys prefix+name. It is safe for concurrent use.
type Store struct {
	cli    *minio.Client
	bucket string
	prefix string // empty or ends in "/"
	where  string // s3://bucket/prefix, for errors
}

var _ runtime.SnapshotStore = (*Store)(nil)

// NewStore returns the store in bucket under prefix (empty, or a path that
// gets a trailing "/"). It does not contact the server: use Check for that.
func NewStore(conn Conn, bucket, prefix string) (*Store, error) {
	if err := checkBucket(bucket); err != nil {
		return nil, fmt.Errorf("s3 snapshot store: %w", err)
	}
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		prefix += "/"
	}
	cli, err := conn.client()
	if err != nil {
		return nil, fmt.Errorf("s3 snapshot store: %w", err)
	}
	return &Store{cli: cli, bucket: bucket, prefix: prefix, where: "s3://" + bucket + "/" + prefix}, nil
}

// Sub returns the store under prefix+sub: the same bucket and connection.
func (s *Store) Sub(sub string) *Store {
	p := strings.Trim(s.prefix+strings.Trim(sub, "/"), "/")
	if p != "" {
		p += "/"
	}
	return &Store{cli: s.cli, bucket: s.bucket, prefix: p, where: "s3://" + s.bucket + "/" + p}
}

// String returns s3://bucket/prefix.
func (s *Store) String() string { return s.where }

// Check fails unless the bucket exists and the credentials may read it.
func (s *Store) Check(ctx context.Context) error {
	ok, err := s.cli.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3 snapshot store %s: %w", s.where, err)
	}
	if !ok {
		return fmt.Errorf("s3 snapshot store %s: bucket %q does not exist", s.where, s.bucket)
	}
	return nil
}

// Put reads all of r and then stores it under name: small objects with one
// PUT, big ones with a multipart upload. Both become visible atomically when
// complete, so a failure of r or of the upload leaves the old object, or none.
func (s *Store) Put(ctx context.Context, name string, r io.Reader) error {
	body, size, cleanup, err := spool(r)
	if err != nil {
		return fmt.Errorf("s3 snapshot store: put %s: %w", name, err)
	}
	defer cleanup()
	_, err = s.cli.PutObject(ctx, s.bucket, s.prefix+name, body, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    storePartBytes,
	})
	if err != nil {
		return fmt.Errorf("s3 snapshot store %s: put %s: %w", s.where, name, err)
	}
	return nil
}

// spool reads r to its end: into memory up to storeMemBytes, the rest into a
// temporary file, and returns a reader of it all (seekable, so that minio-go
// can retry a request) and its size.
func spool(r io.Reader) (io.Reader, int64, func(), error) {
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, r, storeMemBytes+1)
	if err == io.EOF {
		return bytes.NewReader(buf.Bytes()), n, func() {}, nil
	}
	if err != nil {
		return nil, 0, nil, err
	}
	f, err := os.CreateTemp("", "weir-s3-put-*")
	if err != nil {
		return nil, 0, nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	if _, err := f.Write(buf.Bytes()); err != nil {
		cleanup()
		return nil, 0, nil, err
	}
	rest, err := io.Copy(f, r)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, 0, nil, err
	}
	return f, n + rest, cleanup, nil
}

// Get opens name. A missing object gives an error wrapping runtime.ErrNotExist.
func (s *Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	// NB: Core.GetObject sends the request now, so a missing key is an error
	// here rather than at the first Read.
	body, _, _, err := minio.Core{Client: s.cli}.GetObject(ctx, s.bucket, s.prefix+name, minio.GetObjectOptions{})
	if err != nil {
		if isNotFound(err, "NoSuchKey") {
			return nil, fmt.Errorf("s3 snapshot store %s: %s: %w", s.where, name, runtime.ErrNotExist)
		}
		return nil, fmt.Errorf("s3 snapshot store %s: get %s: %w", s.where, name, err)
	}
	return body, nil
}

// List returns the names under prefix, sorted.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	for o := range s.cli.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("s3 snapshot store %s: list %q: %w", s.where, prefix, o.Err)
		}
		names = append(names, strings.TrimPrefix(o.Key, s.prefix))
	}
	// NB: S3 lists in UTF-8 byte order already; sorting keeps the contract
	// for servers that do not.
	sort.Strings(names)
	return names, nil
}

// Delete removes name; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, name string) error {
	err := s.cli.RemoveObject(ctx, s.bucket, s.prefix+name, minio.RemoveObjectOptions{})
	if err != nil && !isNotFound(err, "NoSuchKey") {
		return fmt.Errorf("s3 snapshot store %s: delete %s: %w", s.where, name, err)
	}
	return nil
}

package s3

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/weirstream/weir/plugins/pebble"
	"github.com/weirstream/weir/plugins/s3/miniotest"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/conformance"
)

// testConn returns the connection to srv.
func testConn(srv *miniotest.Server) Conn {
	return Conn{Endpoint: srv.Addr, Insecure: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
}

// TestStoreConformance runs the shared snapshot store suite against a real
// MinIO, each subtest under its own key prefix.
func TestStoreConformance(t *testing.T) {
	srv := miniotest.Start(t)
	n := 0
	conformance.TestSnapshotStore(t, func(t *testing.T) runtime.SnapshotStore {
		n++
		s, err := NewStore(testConn(srv), srv.Bucket, fmt.Sprintf("suite/%03d", n))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestPebbleOnS3 runs the shared state backend suite for the Pebble backend
// with its checkpoints in MinIO: incremental uploads, restores, rescaling and
// corrupt or missing objects, all through the S3 store.
func TestPebbleOnS3(t *testing.T) {
	srv := miniotest.Start(t)
	n := 0
	conformance.TestStateBackend(t, pebble.Factory{}, func(t *testing.T) runtime.SnapshotStore {
		n++
		s, err := NewStore(testConn(srv), srv.Bucket, fmt.Sprintf("state/%03d", n))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestSinkConformance runs the shared transactional sink suite against a real
// MinIO; committed output is read back by listing the bucket. A part size of
// the minimum (5 MiB) makes the suite's large transaction span several parts.
func TestSinkConformance(t *testing.T) {
	srv := miniotest.Start(t)
	paths := map[string]string{}
	path := func(t *testing.T) string {
		if p, ok := paths[t.Name()]; ok {
			return p
		}
		p := fmt.Sprintf("sink/%03d", len(paths))
		paths[t.Name()] = p
		return p
	}
	conformance.TestSink(t, func(t *testing.T) runtime.Sink {
		s, err := newSink(SinkOptions{Endpoint: srv.Addr, Insecure: true, Bucket: srv.Bucket, Path: path(t), PartSizeMiB: minPartSizeMiB}, testConn(srv))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, func(t *testing.T) []string {
		return committedLines(t, srv, path(t)+"/")
	}, conformance.SinkOptions{RollsBack: true})
}

// committedLines lists the objects directly under prefix (not the pending
// markers below it) and returns their lines.
func committedLines(t *testing.T, srv *miniotest.Server, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	cli := srv.Client()
	var lines []string
	for o := range cli.ListObjects(ctx, srv.Bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if strings.HasSuffix(o.Key, "/") {
			continue // a "directory"
		}
		r, err := cli.GetObject(ctx, srv.Bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("read %s: %v", o.Key, err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
	}
	return lines
}

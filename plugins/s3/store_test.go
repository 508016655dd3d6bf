package s3

import (
	"errors"
	"fmt"
	"strings"
	"testing"

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

// committedLines returns the lines of the sink's objects under prefix.
func committedLines(t *testing.T, srv *miniotest.Server, prefix string) []string {
	return srv.Lines(t, prefix)
}

// TestStoreOutage checks that with the server down a Put and a Get fail
// (after the bounded retries, not hanging) and leave nothing, and that the
// same store works again once the server is back on its data.
func TestStoreOutage(t *testing.T) {
	srv := miniotest.Start(t)
	s, err := NewStore(testConn(srv), srv.Bucket, "outage")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Put(ctx, "before", strings.NewReader("kept")); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := s.Put(ctx, "during", strings.NewReader("x")); err == nil {
		t.Fatal("Put succeeded with the server down")
	}
	if _, err := s.Get(ctx, "before"); err == nil || errors.Is(err, runtime.ErrNotExist) {
		t.Fatalf("Get with the server down: %v; want an error that is not ErrNotExist", err)
	}
	srv.Restart()
	names, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "before" {
		t.Fatalf("after the outage List = %q, want [before]", names)
	}
	if err := s.Put(ctx, "after", strings.NewReader("y")); err != nil {
		t.Fatalf("Put after the outage: %v", err)
	}
}

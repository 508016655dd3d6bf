package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/weirstream/weir/plugins/s3/miniotest"
)

// TestSnapshotFlagErrors checks the errors of bad -snapshots flags.
func TestSnapshotFlagErrors(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "job.yaml")
	os.WriteFile(spec, []byte("name: j\nsources: [{name: s, kind: datagen, options: {count: 1}}]\nsinks: [{name: o, kind: discard, from: s}]\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--snapshots", "s3://weir-b/x"}, "-snapshots s3://weir-b/x needs -s3-endpoint"},
		{[]string{"--snapshots", "file:///tmp/x", "--s3-endpoint", "127.0.0.1:1"}, `-snapshots: "file:///tmp/x" is not s3://BUCKET or s3://BUCKET/PREFIX`},
		{[]string{"--snapshots", "s3://Bad-b/x", "--s3-endpoint", "127.0.0.1:1"}, `bucket "Bad-b" has 'B'`},
		{[]string{"--s3-endpoint", "127.0.0.1:1"}, "-s3-endpoint is set but -snapshots is not"},
	} {
		args := append(append([]string{"run", "--data-dir", t.TempDir()}, tc.args...), spec)
		code, _, stderr := weir(t, args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("weir %s: exit %d, stderr %q; want an error containing %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
}

// TestServerSnapshotsOnS3 runs `weir server --snapshots s3://...` against a
// real MinIO, submits a keyed job with the S3 sink through the CLI, and checks
// that its checkpoints are in the bucket (not in the data directory) and that
// the bucket holds every output record once.
func TestServerSnapshotsOnS3(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	srv := miniotest.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	const n = 20000
	bin := buildWeir(t)
	dir := t.TempDir()
	paths := vcountModules(t, dir, 1)
	data := filepath.Join(dir, "data")
	s := startServer(t, bin, data, "--snapshots", "s3://"+srv.Bucket+"/srv", "--s3-endpoint", srv.Addr, "--s3-insecure")
	pushVersions(t, s, paths)
	spec := strings.Replace(fmt.Sprintf(swapSpec, n, 20000), "    kind: file\n    parallelism: 2\n    from: count\n    options: {path: out, format: keyvalue}\n",
		fmt.Sprintf("    kind: s3\n    parallelism: 2\n    from: count\n    options: {endpoint: %q, insecure: true, bucket: %s, path: out, format: keyvalue}\n", srv.Addr, srv.Bucket), 1)
	if !strings.Contains(spec, "kind: s3") {
		t.Fatal("the spec was not rewritten to the s3 sink")
	}
	specPath := filepath.Join(dir, "job.yaml")
	os.WriteFile(specPath, []byte(spec), 0o644)
	id := strings.TrimSpace(s.mustCLI("job", "submit", specPath))
	waitJob(t, s, id, serverJobTimeout)

	if _, err := os.Stat(filepath.Join(data, "jobs", id, "snapshots")); err == nil {
		t.Errorf("the server made a local snapshot directory for job %s although -snapshots is s3://", id)
	}
	manifests := 0
	for o := range srv.Client().ListObjects(context.Background(), srv.Bucket, minio.ListObjectsOptions{Prefix: "srv/jobs/" + id + "/snapshots/checkpoints/", Recursive: true}) {
		if strings.HasSuffix(o.Key, "/MANIFEST") {
			manifests++
		}
	}
	if manifests == 0 {
		t.Fatalf("no checkpoint manifest under s3://%s/srv/jobs/%s/snapshots/", srv.Bucket, id)
	}
	got := s3Committed(t, srv)
	seen := map[string]bool{}
	dup := 0
	for _, l := range got {
		if seen[l] {
			dup++
		}
		seen[l] = true
	}
	t.Logf("job %s: %d checkpoints retained in the bucket; %d committed lines read back, %d expected, duplicated = %d", id, manifests, len(got), n, dup)
	if len(got) != n || dup != 0 {
		t.Fatalf("committed %d lines (%d duplicated), want %d distinct", len(got), dup, n)
	}
}

// serverJobTimeout bounds the wait for a submitted job, so that a hung job
// fails the test instead of the whole run; it is not a speed requirement.
const serverJobTimeout = 5 * time.Minute

package miniotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// EnvBinary names the MinIO binary to use instead of the cached one.
const EnvBinary = "WEIR_MINIO"

// readyTimeout bounds the wait for a started server to answer its health
// check. It is not an assertion about speed: it only turns a server that
// never comes up into a failure instead of a hung test.
const readyTimeout = 2 * time.Minute

// Binary returns the path of the MinIO server binary: $WEIR_MINIO, or the one
// scripts/install-minio.sh caches in $HOME/.cache/weir/bin; "" if neither
// exists.
func Binary() string {
	if p := os.Getenv(EnvBinary); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	p := filepath.Join(home, ".cache", "weir", "bin", "minio")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Server is one MinIO server process and its data.
type Server struct {
	t         testing.TB
	bin       string
	dataDir   string
	logPath   string // the server's output, appended over restarts
	Addr      string // host:port of the S3 API
	AccessKey string
	SecretKey string
	Bucket    string // created by Start

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// Start starts a server with a fresh data directory and an empty bucket, and
// stops it when the test ends. It skips the test if MinIO is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("MinIO is not installed: run scripts/install-minio.sh (make test does), or set " + EnvBinary)
	}
	var key [12]byte
	rand.Read(key[:])
	s := &Server{
		t:         t,
		bin:       bin,
		dataDir:   t.TempDir(),
		logPath:   filepath.Join(t.TempDir(), "minio.log"),
		Addr:      freeAddr(t),
		AccessKey: "weirtest",
		SecretKey: hex.EncodeToString(key[:]),
		Bucket:    "weir-test",
	}
	t.Cleanup(s.Stop)
	s.Restart()
	cli := s.Client()
	ctx := context.Background()
	if err := cli.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("minio: make bucket %s: %v", s.Bucket, err)
	}
	return s
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Env returns the environment entries that give a weir process (or the s3
// plugin in this process) the server's credentials.
func (s *Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey}
}

// Client returns a minio-go client of the server, for tests to read back
// what was committed.
func (s *Server) Client() *minio.Client {
	cli, err := minio.New(s.Addr, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Secure: false})
	if err != nil {
		s.t.Fatal(err)
	}
	return cli
}

// Lines returns the lines of the objects whose keys start with prefix and
// have no "/" after it (so not the sink's pending markers below), in key
// order: what a reader of the bucket sees as committed output.
func (s *Server) Lines(t testing.TB, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	cli := s.Client()
	var lines []string
	for o := range cli.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			t.Fatalf("minio: list %s: %v", prefix, o.Err)
		}
		if strings.HasSuffix(o.Key, "/") {
			continue // a "directory"
		}
		r, err := cli.GetObject(ctx, s.Bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatalf("minio: get %s: %v", o.Key, err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("minio: read %s: %v", o.Key, err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
	}
	return lines
}

// Restart starts the server again on the same address and data directory
// (after Stop; also used by Start) and waits until it is ready.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("minio: Restart while running")
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(s.bin, "server", s.dataDir, "--address", s.Addr, "--console-address", freeAddr(s.t), "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.t.Fatalf("minio: start %s: %v", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done, s.log = cmd, done, logf
	url := "http://" + s.Addr + "/minio/health/ready"
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			s.t.Fatalf("minio: the server exited before it was ready; log:\n%s", s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("minio: not ready at %s after %v; log:\n%s", url, readyTimeout, s.logTail())
		}
	}
}

// Stop kills the server (SIGKILL: as an outage, not a clean shutdown) and
// waits for it to exit. Its data stays for Restart.
func (s *Server) Stop() { s.stop(os.Kill) }

// Shutdown stops the server the way an operator's restart does (SIGTERM) and
// waits for it to exit. Its data stays for Restart.
//
// NB: a single MinIO server stopped with SIGTERM while it completes a
// multipart upload can lose that upload (and the object) as a SIGKILL can;
// the s3 sink therefore commits by a server-side copy of a staged object,
// see TestSinkCommitDuringMinIOShutdown in package s3.
func (s *Server) Shutdown() { s.stop(syscall.SIGTERM) }

func (s *Server) stop(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(sig)
	<-s.done
	s.log.Close()
	s.cmd, s.done, s.log = nil, nil, nil
}

func (s *Server) logTail() string {
	data, _ := os.ReadFile(s.logPath)
	lines := strings.Split(string(data), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

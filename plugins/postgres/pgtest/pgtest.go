package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Options configure a test server.
type Options struct {
	// MaxPreparedTransactions is the server's max_prepared_transactions; 0
	// disables two-phase commit.
	MaxPreparedTransactions int
}

// Server is a running (or stopped) test PostgreSQL server.
type Server struct {
	t       testing.TB
	bin     string // directory of the server binaries
	dir     string // the temporary directory: data/, socket, log
	port    int
	opts    Options
	cred    *syscall.Credential // nil when not running as root
	running bool
}

// BinDir returns the directory of the PostgreSQL server binaries, or "" when
// they are not installed: Debian's /usr/lib/postgresql/<version>/bin (the
// newest), else the directory of initdb on PATH.
func BinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real)
		}
	}
	return ""
}

// version is the major version in a Debian binary directory name.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// Start creates a database cluster in a new temporary directory and starts a
// server on it. It skips the test when PostgreSQL is not installed. The server
// is stopped and its directory removed when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := BinDir()
	if bin == "" {
		t.Skip("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin or initdb on PATH); run scripts/install-postgres.sh")
	}
	dir, err := os.MkdirTemp("", "weir-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, bin: bin, dir: dir, opts: opts}
	t.Cleanup(func() {
		if s.running {
			s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
		}
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		s.cred = serverUser(t)
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := s.run("initdb", "-D", s.data(), "-U", "weir", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.port = freePort(t)
	s.Start()
	return s
}

// serverUser is the unprivileged user the server runs as under root.
func serverUser(t testing.TB) *syscall.Credential {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	t.Skip("running as root and neither user postgres nor nobody exists to run the PostgreSQL server as")
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// run runs one of the server binaries, as the server user under root.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd.CombinedOutput()
}

// Start starts the (stopped) server on its data directory and port, and waits
// until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	// NB: fsync off: the tests kill clients and restart the server, never the
	// machine, so the page cache keeps what fsync would have forced out.
	o := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_prepared_transactions=%d -c fsync=off -c max_connections=100",
		s.port, s.dir, s.opts.MaxPreparedTransactions)
	if out, err := s.run("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "log"), "-o", o, "-w", "-t", "120", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		s.t.Fatalf("pg_ctl start: %v\n%s\nserver log:\n%s", err, out, log)
	}
	s.running = true
}

// Stop stops the server: "fast" rolls back open transactions and disconnects
// clients cleanly, "immediate" is a crash (recovery runs at the next start).
func (s *Server) Stop(mode string) {
	s.t.Helper()
	if out, err := s.run("pg_ctl", "-D", s.data(), "-m", mode, "-w", "-t", "120", "stop"); err != nil {
		s.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
	s.running = false
}

// ConnString is the connection string of the server's database postgres as
// its superuser weir, over TCP.
func (s *Server) ConnString() string {
	return fmt.Sprintf("postgres://weir@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Conn opens a connection, closed when the test ends.
func (s *Server) Conn() *pgx.Conn {
	s.t.Helper()
	c, err := pgx.Connect(context.Background(), s.ConnString())
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// Exec runs SQL statements on a new connection and fails the test on error.
func (s *Server) Exec(sql string, args ...any) {
	s.t.Helper()
	c, err := pgx.Connect(context.Background(), s.ConnString())
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		s.t.Fatalf("%s: %v", sql, err)
	}
}

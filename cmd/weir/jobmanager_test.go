package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/plugins/nats/natstest"
)

// jobManagerStartDeadline bounds how long a test waits for a JobManager to
// lead: generous, since the machine is shared; no test measures it.
const jobManagerStartDeadline = 2 * time.Minute

// startJobManager starts `weir jobmanager` and returns its process and a
// channel that yields its API address once it leads (and serves).
func startJobManager(t *testing.T, bin, dataDir, id, natsURL string) (*serverProc, <-chan string) {
	t.Helper()
	s := &serverProc{t: t, bin: bin, dataDir: dataDir, stderr: &bytes.Buffer{}}
	cmd := exec.Command(bin, "jobmanager", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--log-level", "warn",
		"--nats", natsURL, "--id", id, "--lease", "1s")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	t.Cleanup(s.kill)
	addr := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		if err == nil && strings.HasPrefix(line, "listening on ") {
			addr <- strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
		}
		_, _ = r.WriteTo(discardWriter{})
	}()
	return s, addr
}

func awaitLeader(t *testing.T, s *serverProc, addr <-chan string) {
	t.Helper()
	select {
	case a := <-addr:
		s.addr = a
	case <-time.After(jobManagerStartDeadline):
		t.Fatalf("jobmanager did not lead within %v:\n%s", jobManagerStartDeadline, s.stderr)
	}
}

// TestJobManagerFailover starts two `weir jobmanager` processes on one real
// NATS server: only the leader serves the API; after kill -9 of the leader
// the standby takes over (once the lease has run out, as it observes it) and
// serves the same modules and jobs from the shared catalog.
func TestJobManagerFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	bin := buildWeir(t)
	nsrv := natstest.Start(t)
	dir := t.TempDir()
	paths := vcountModules(t, dir, 1)

	a, aAddr := startJobManager(t, bin, filepath.Join(dir, "jm-a"), "jm-a", nsrv.URL())
	awaitLeader(t, a, aAddr)
	b, bAddr := startJobManager(t, bin, filepath.Join(dir, "jm-b"), "jm-b", nsrv.URL())
	pushVersions(t, a, paths)
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(swapSpec, 500, 0)), 0o644)
	id := strings.TrimSpace(a.mustCLI("job", "submit", spec))
	if j := waitJob(t, a, id, time.Minute); j.State != "JOB_STATE_FINISHED" {
		t.Fatalf("job %s on the leader: %+v", id, j)
	}
	want := listWith(t, http.DefaultClient, a.url())
	if len(want.modules) != 1 || len(want.jobs) != 1 {
		t.Fatalf("leader lists %+v, want 1 module and 1 job", want)
	}
	select {
	case addr := <-bAddr:
		t.Fatalf("the standby serves on %s while the leader lives", addr)
	default:
	}

	a.kill()
	awaitLeader(t, b, bAddr)
	if got := listWith(t, http.DefaultClient, b.url()); !slices.Equal(got.modules, want.modules) || !slices.Equal(got.jobs, want.jobs) {
		t.Fatalf("new leader lists %+v, the old one listed %+v", got, want)
	}
	// The old leader, restarted, stands by (a smoke check: it has not
	// served by the time jm-b answers one more request).
	_, a2Addr := startJobManager(t, bin, filepath.Join(dir, "jm-a"), "jm-a", nsrv.URL())
	b.mustCLI("module", "ls")
	select {
	case addr := <-a2Addr:
		t.Fatalf("the restarted JobManager serves on %s while jm-b leads", addr)
	default:
	}
}

// TestJobManagerBadFlags: the role refuses to start without -nats, or with
// a local catalog.
func TestJobManagerBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "no nats", args: nil, want: "needs -nats"},
		{name: "local catalog", args: []string{"--nats", "nats://127.0.0.1:1", "--catalog", "local"}, want: "keeps its catalog in NATS"},
		{name: "bad id", args: []string{"--nats", "nats://127.0.0.1:1", "--id", "jm.0"}, want: "candidate id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := jobmanagerCmd(t.Context(), append([]string{"--data-dir", t.TempDir()}, tc.args...), &out, &errb)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("jobmanager %v: %v, want an error saying %q", tc.args, err, tc.want)
			}
		})
	}
}

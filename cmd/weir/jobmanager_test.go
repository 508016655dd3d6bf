package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weirstream/weir/plugins/localfs"
	"github.com/weirstream/weir/plugins/nats/natskv"
	"github.com/weirstream/weir/plugins/nats/natstest"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/coord"
)

// jobManagerStartDeadline bounds how long a test waits for a JobManager to
// lead: generous, since the machine is shared; no test measures it.
const jobManagerStartDeadline = 2 * time.Minute

// startJobManager starts `weir jobmanager` (with a lease of 1s, unless extra
// flags say otherwise) and returns its process and a channel that yields its
// API address once it leads (and serves).
func startJobManager(t *testing.T, bin, dataDir, id, natsURL string, extra ...string) (*serverProc, <-chan string) {
	t.Helper()
	s := &serverProc{t: t, bin: bin, dataDir: dataDir, stderr: &bytes.Buffer{}}
	args := append([]string{"jobmanager", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--log-level", "warn",
		"--nats", natsURL, "--id", id, "--lease", "1s"}, extra...)
	cmd := exec.Command(bin, args...)
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

// TestJobManagerFencedAfterSIGSTOP: the leader runs a job, is frozen with
// SIGSTOP, a standby takes over and runs the job (its checkpoints enter the
// catalog with the next epoch), and then the old leader is let go with
// SIGCONT, still running the job until it notices it lost its lease. It must
// exit without completing a checkpoint or committing output after being
// deposed: the catalog gains no checkpoint of its epoch, it writes no
// manifest the catalog did not accept before the takeover, and its sink
// commits no file. The catalog's ids only go up.
//
// NB: the old leader runs with a long lease (60s; it renews every 15s), so
// that after SIGCONT it keeps believing it leads for seconds, and its job
// tries to complete checkpoints meanwhile: what stops them is the fence,
// not the lease (with equal leases, which of the two comes first after
// SIGCONT is a race). The standby, started once the leader is frozen, takes
// over after seeing it silent for its own lease of 1s.
func TestJobManagerFencedAfterSIGSTOP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	bin := buildWeir(t)
	nsrv := natstest.Start(t)
	kv, err := natskv.Open(t.Context(), nsrv.JetStream(t), natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cat := coord.NewCatalog(kv)
	dir := t.TempDir()
	paths := vcountModules(t, dir, 1)
	dataA := filepath.Join(dir, "jm-a")
	a, aAddr := startJobManager(t, bin, dataA, "jm-a", nsrv.URL(), "--lease", "60s")
	awaitLeader(t, a, aAddr)
	pushVersions(t, a, paths)
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(swapSpec, 10_000_000, 2000)), 0o644)
	id := strings.TrimSpace(a.mustCLI("job", "submit", spec))
	catJob := coord.CatalogJob(id)
	checkpoints := func() []coord.Checkpoint {
		t.Helper()
		cps, err := cat.Checkpoints(t.Context(), catJob)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(cps); i++ {
			if cps[i].ID <= cps[i-1].ID || cps[i].Epoch < cps[i-1].Epoch {
				t.Fatalf("the catalog goes back: %+v then %+v", cps[i-1], cps[i])
			}
		}
		return cps
	}
	// waitFor polls the catalog until ok holds.
	waitFor := func(what string, ok func([]coord.Checkpoint) bool) []coord.Checkpoint {
		t.Helper()
		deadline := time.Now().Add(jobManagerStartDeadline)
		for time.Now().Before(deadline) {
			if cps := checkpoints(); ok(cps) {
				return cps
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: not within %v; catalog %+v", what, jobManagerStartDeadline, checkpoints())
		return nil
	}
	cps := waitFor("jm-a completes 2 checkpoints", func(cps []coord.Checkpoint) bool { return len(cps) >= 2 })
	epochA := cps[0].Epoch

	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozenOutput := committedParts(t, filepath.Join(dataA, "files"))
	frozenManifests := localCheckpoints(t, filepath.Join(dataA, "jobs", id, "snapshots"))
	b, bAddr := startJobManager(t, bin, filepath.Join(dir, "jm-b"), "jm-b", nsrv.URL())
	awaitLeader(t, b, bAddr)
	waitFor("jm-b completes a checkpoint", func(cps []coord.Checkpoint) bool { return len(cps) > 0 && cps[len(cps)-1].Epoch > epochA })
	before := checkpoints()
	var acceptedA int64 // the newest checkpoint of jm-a the catalog accepted
	for _, cp := range before {
		if cp.Epoch == epochA {
			acceptedA = max(acceptedA, cp.ID)
		}
	}
	acceptedA = max(acceptedA, slices.Max(append(frozenManifests, 0)))

	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- a.cmd.Wait() }()
	select {
	case err := <-exited:
		a.cmd = nil
		if err == nil {
			t.Errorf("the deposed jm-a exited 0, want non-zero (lost leadership)")
		}
	case <-time.After(time.Minute):
		t.Fatalf("the deposed jm-a did not exit within a minute:\n%s", a.stderr)
	}
	if !strings.Contains(a.stderr.String(), "checkpoint refused") {
		t.Errorf("the deposed jm-a did not try to complete a checkpoint after SIGCONT (or was not refused):\n%s", a.stderr)
	}

	for _, cp := range checkpoints() {
		if cp.Epoch == epochA && !slices.Contains(before, cp) {
			t.Errorf("the catalog accepted checkpoint %+v of the deposed jm-a after the takeover", cp)
		}
	}
	after := localCheckpoints(t, filepath.Join(dataA, "jobs", id, "snapshots"))
	grew := false
	for _, cp := range after {
		if !slices.Contains(frozenManifests, cp) {
			grew = true
			if cp > acceptedA {
				t.Errorf("the deposed jm-a wrote the manifest of checkpoint %d, which the catalog never accepted (newest of its epoch %d: %d)", cp, epochA, acceptedA)
			}
		}
	}
	// NB: a checkpoint the catalog accepted before jm-a froze may still
	// commit after SIGCONT (the window RATIONALE.md names); nothing else.
	for name, sum := range committedParts(t, filepath.Join(dataA, "files")) {
		if was, ok := frozenOutput[name]; ok && was != sum {
			t.Errorf("the deposed jm-a rewrote its committed file %s after SIGCONT", name)
		} else if !ok && (!grew || partCheckpoint(name) > acceptedA) {
			t.Errorf("the deposed jm-a committed %s after SIGCONT (newest checkpoint the catalog accepted of it: %d)", name, acceptedA)
		}
	}
	if j, ok := b.getJob(id); !ok || j.State != "JOB_STATE_RUNNING" {
		t.Errorf("on the new leader the job is %+v, want running", j)
	}
}

// localCheckpoints lists the checkpoint ids with a manifest in the local
// snapshot store at dir (none when it does not exist).
func localCheckpoints(t *testing.T, dir string) []int64 {
	t.Helper()
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return nil
	}
	st, err := localfs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := runtime.Checkpoints(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// committedParts returns the digest of each committed file of the file
// sinks under dir (plugins/file: part-<checkpoint>-<subtask>, outside
// .inprogress), by path.
func committedParts(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	parts := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && d.Name() == ".inprogress":
			return fs.SkipDir
		case d.IsDir() || partCheckpoint(d.Name()) == 0:
			return nil
		}
		b, err := os.ReadFile(path)
		parts[path] = sha256.Sum256(b)
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return parts
}

// partCheckpoint is the checkpoint of a committed file of the file sink
// (0: not one).
func partCheckpoint(path string) int64 {
	var cp, sub int64
	if n, _ := fmt.Sscanf(filepath.Base(path), "part-%d-%d", &cp, &sub); n != 2 {
		return 0
	}
	return cp
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

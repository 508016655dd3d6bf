package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/plugins/nats/natstest"
)

// TestServerCatalogOnNATS runs `weir server --catalog nats` against a real
// NATS server, pushes a module and runs a job, then starts a second server
// process with an empty data directory on the same NATS: it knows the same
// module and the same job, because the records live in the JetStream object
// store and not in the first server's directory.
func TestServerCatalogOnNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	bin := buildWeir(t)
	nsrv := natstest.Start(t)
	dir := t.TempDir()
	paths := vcountModules(t, dir, 1)
	flags := []string{"--catalog", "nats", "--nats", nsrv.URL()}
	a := startServer(t, bin, filepath.Join(dir, "data-a"), flags...)
	pushVersions(t, a, paths)
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(swapSpec, 500, 0)), 0o644)
	id := strings.TrimSpace(a.mustCLI("job", "submit", spec))
	if j := waitJob(t, a, id, time.Minute); j.State != "JOB_STATE_FINISHED" {
		t.Fatalf("job %s on the first server: %+v", id, j)
	}
	want := listWith(t, http.DefaultClient, a.url())
	a.kill()
	if _, err := os.Stat(filepath.Join(dir, "data-a", "catalog")); !os.IsNotExist(err) {
		t.Errorf("the server made a local catalog directory (%v)", err)
	}

	b := startServer(t, bin, filepath.Join(dir, "data-b"), flags...)
	got := listWith(t, http.DefaultClient, b.url())
	if len(want.jobs) != 1 || len(want.modules) != 1 || !slices.Equal(got.jobs, want.jobs) || !slices.Equal(got.modules, want.modules) {
		t.Fatalf("second server lists %+v, first listed %+v (want 1 job, 1 module)", got, want)
	}
	if j, ok := b.getJob(id); !ok || j.State != "JOB_STATE_FINISHED" {
		t.Fatalf("second server: job %s is %+v", id, j)
	}
	// The local default is unchanged: a server without -catalog does not see them.
	c := startServer(t, bin, filepath.Join(dir, "data-c"), "--nats", nsrv.URL())
	if l := listWith(t, http.DefaultClient, c.url()); len(l.jobs) != 0 || len(l.modules) != 0 {
		t.Fatalf("server with the local catalog lists %+v", l)
	}
}

// TestServerCatalogOnEmbeddedNATS: -catalog nats without -nats keeps the
// records in the embedded server's store under the data directory, which a
// restart of the process finds again.
func TestServerCatalogOnEmbeddedNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	bin := buildWeir(t)
	dir := t.TempDir()
	paths := vcountModules(t, dir, 1)
	data := filepath.Join(dir, "data")
	s := startServer(t, bin, data, "--catalog", "nats")
	pushVersions(t, s, paths)
	want := listWith(t, http.DefaultClient, s.url())
	s.kill()
	s.start()
	if got := listWith(t, http.DefaultClient, s.url()); len(want.modules) != 1 || !slices.Equal(got.modules, want.modules) {
		t.Fatalf("after a restart the server lists %+v, before %+v", got, want)
	}
	if _, err := os.Stat(filepath.Join(data, "nats")); err != nil {
		t.Fatalf("no embedded NATS store under the data directory: %v", err)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	weirv1 "github.com/weirstream/weir/runtime/api/weirv1"
	"github.com/weirstream/weir/runtime/api/weirv1/weirv1connect"
)

// The API tests drive a real `weir server` process with the three protocols
// it serves and with bad input of every kind.

// listAnswers is what one protocol saw: job ids, their states, module digests.
type listAnswers struct {
	jobs    []string
	modules []string
}

func listWith(t *testing.T, hc *http.Client, url string, opts ...connect.ClientOption) listAnswers {
	t.Helper()
	ctx := context.Background()
	jobs, err := weirv1connect.NewJobServiceClient(hc, url, opts...).List(ctx, connect.NewRequest(&weirv1.ListJobsRequest{}))
	if err != nil {
		t.Fatalf("JobService.List: %v", err)
	}
	mods, err := weirv1connect.NewModuleServiceClient(hc, url, opts...).List(ctx, connect.NewRequest(&weirv1.ListModulesRequest{}))
	if err != nil {
		t.Fatalf("ModuleService.List: %v", err)
	}
	var a listAnswers
	for _, j := range jobs.Msg.Jobs {
		a.jobs = append(a.jobs, j.Id+"/"+j.Name)
	}
	for _, m := range mods.Msg.Modules {
		a.modules = append(a.modules, m.Digest+"/"+strings.Join(m.Names, ","))
	}
	sort.Strings(a.jobs)
	sort.Strings(a.modules)
	return a
}

// TestAPIProtocols asks the same questions over Connect (binary and JSON),
// gRPC, gRPC-Web and a plain HTTP POST of JSON, on the server's one port, and
// wants the same answers.
func TestAPIProtocols(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	bin := buildWeir(t)
	dir := t.TempDir()
	paths := vcountModules(t, dir, 2)
	s := startServer(t, bin, filepath.Join(dir, "data"))
	pushVersions(t, s, paths)
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(swapSpec, 1000, 0)), 0o644)
	id := strings.TrimSpace(s.mustCLI("job", "submit", spec))
	waitJob(t, s, id, time.Minute)

	want := listWith(t, http.DefaultClient, s.url())
	if len(want.jobs) != 1 || len(want.modules) != 2 {
		t.Fatalf("Connect answers %+v, want 1 job and 2 modules", want)
	}
	for name, got := range map[string]listAnswers{
		"connect+json": listWith(t, http.DefaultClient, s.url(), connect.WithProtoJSON()),
		"grpc":         listWith(t, &http.Client{Transport: h2cTransport()}, s.url(), connect.WithGRPC()),
		"grpc-web":     listWith(t, http.DefaultClient, s.url(), connect.WithGRPCWeb()),
	} {
		if !slices.Equal(got.jobs, want.jobs) || !slices.Equal(got.modules, want.modules) {
			t.Errorf("%s answers %+v, Connect answers %+v", name, got, want)
		}
	}

	// A plain JSON POST, as curl would send it.
	res, err := http.Post(s.url()+"/weir.v1.JobService/Get", "application/json", strings.NewReader(`{"id": "`+id+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var j struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	if res.StatusCode != 200 || json.Unmarshal(body, &j) != nil || j.ID != id || j.State != "JOB_STATE_FINISHED" {
		t.Errorf("POST /weir.v1.JobService/Get: %d %s", res.StatusCode, body)
	}
	// /metrics is on the same port.
	res, err = http.Get(s.url() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(body, []byte("weir_")) {
		t.Errorf("GET /metrics: %d %.300s", res.StatusCode, body)
	}
}

// Hand-assembled modules for the upload checks.
var (
	wasmMagic = []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	// forbiddenImport imports env.foo: () -> ().
	forbiddenImport = slices.Concat(wasmMagic,
		[]byte{1, 4, 1, 0x60, 0, 0},
		[]byte{2, 11, 1, 3, 'e', 'n', 'v', 3, 'f', 'o', 'o', 0, 0})
	// abiV2 imports weir_v2.foo: () -> (), a later ABI version.
	abiV2 = slices.Concat(wasmMagic,
		[]byte{1, 4, 1, 0x60, 0, 0},
		[]byte{2, 15, 1, 7, 'w', 'e', 'i', 'r', '_', 'v', '2', 3, 'f', 'o', 'o', 0, 0})
	// memoryBomb declares a memory of at least 5000 pages (312 MiB), above
	// the default 256 MiB limit.
	memoryBomb = slices.Concat(wasmMagic, []byte{5, 4, 1, 0, 0x88, 0x27})
)

// TestAPIBadInput sends the server malformed and hostile modules, oversized
// uploads, bad job specs, unknown ids, path traversal and wrong tokens, and
// wants a clear refusal with the right exit code or status each time, and
// nothing stored or written outside the data directory.
func TestAPIBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest")
	}
	bin := buildWeir(t)
	dir := t.TempDir()
	paths := vcountModules(t, dir, 2)
	refuser := filepath.Join(dir, "vcount99.wasm")
	patchVersion(t, paths[0], refuser, 99)
	dataDir := filepath.Join(dir, "data")
	s := startServer(t, bin, dataDir, "--max-module-size", "8MiB")

	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	refused := func(wantCode int, want string, args ...string) {
		t.Helper()
		out, errs, code := s.cli(args...)
		if code != wantCode || !strings.Contains(errs, want) {
			t.Errorf("weir %s: exit %d (want %d), stderr %q, want it to contain %q (stdout %q)", strings.Join(args, " "), code, wantCode, errs, want, out)
		}
	}

	// Modules that must not be stored.
	refused(exitRefused, "not a WebAssembly module", "module", "push", write("junk.wasm", []byte("#!/bin/sh\nrm -rf /\n")))
	refused(exitRefused, "forbidden import env.foo", "module", "push", write("imp.wasm", forbiddenImport))
	refused(exitRefused, "over limit of 4096 pages", "module", "push", write("bomb.wasm", memoryBomb))
	refused(exitRefused, "at most 8388608 bytes", "module", "push", write("big.wasm", slices.Concat(wasmMagic, make([]byte, 9<<20))))
	refused(exitRefused, "module name", "module", "push", paths[0], "--name", "../evil")
	refused(exitRefused, "module name", "module", "push", paths[0], "--name", "Evil/x")
	if out := s.mustCLI("module", "ls", "-o", "json"); strings.Contains(out, "digest") {
		t.Errorf("refused uploads left modules behind:\n%s", out)
	}
	if mods, _ := filepath.Glob(filepath.Join(dataDir, "catalog", "modules", "*")); len(mods) != 0 {
		t.Errorf("refused uploads left files in the catalog: %v", mods)
	}

	// An upload that says nothing of its size is cut off at the cap while
	// it streams.
	up := weirv1connect.NewModuleServiceClient(&http.Client{Transport: h2cTransport()}, s.url()).Upload(context.Background())
	up.Send(&weirv1.UploadRequest{Part: &weirv1.UploadRequest_Header{Header: &weirv1.UploadHeader{Name: "streamed"}}})
	chunk := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		if up.Send(&weirv1.UploadRequest{Part: &weirv1.UploadRequest_Chunk{Chunk: chunk}}) != nil {
			break // the server stopped reading
		}
	}
	if _, err := up.CloseAndReceive(); connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "cut off") {
		t.Errorf("a 64 MiB streamed upload under an 8 MiB cap: %v, want resource_exhausted ... cut off", err)
	}

	s.mustCLI("module", "push", paths[0], "--name", "vcount")
	spec := func(name, body string) string { return write(name, []byte(body)) }
	good := fmt.Sprintf(swapSpec, 100, 0)

	// Bad job specs name the field.
	refused(exitRefused, `unknown source kind "datagenn"`, "job", "submit", spec("kind.yaml", strings.Replace(good, "kind: datagen", "kind: datagenn", 1)))
	refused(exitNotFound, `no module is named "nope" (push it first`, "job", "submit", spec("mod.yaml", strings.Replace(good, "module: vcount", "module: nope", 1)))
	refused(exitRefused, "spec:1: invalid YAML", "job", "submit", spec("junk.yaml", "{{{"))
	refused(exitNotFound, "push it first", "job", "submit", spec("mod2.yaml", strings.Replace(good, "module: vcount", "module: ./vcount01.wasm", 1)))
	// Paths that would leave the files directory.
	outside := filepath.Join(dir, "outside")
	os.MkdirAll(outside, 0o755)
	os.MkdirAll(filepath.Join(dataDir, "files"), 0o755)
	os.Symlink(outside, filepath.Join(dataDir, "files", "link"))
	for _, p := range []string{"../escape", "a/../../escape", outside + "/abs", "link/x"} {
		refused(exitRefused, "options.path", "job", "submit", spec("path.yaml", strings.Replace(good, "path: out", "path: "+p, 1)))
	}

	// Unknown and malformed ids.
	refused(exitNotFound, "no job", "job", "get", "nope")
	refused(exitRefused, "not a job id", "job", "get", "../../etc/passwd")
	refused(exitRefused, "not a job id", "job", "get", "%2e%2e")
	refused(exitNotFound, "sha256:"+strings.Repeat("0", 64), "module", "get", "sha256:"+strings.Repeat("0", 64))
	refused(exitRefused, "module digest", "module", "get", "sha256:../../x")

	id := strings.TrimSpace(s.mustCLI("job", "submit", spec("slow.yaml", fmt.Sprintf(swapSpec, 1_000_000, 2000))))
	refused(exitNotFound, `no operator "nope"`, "job", "swap", id, "nope", "vcount")
	refused(exitNotFound, "nope", "job", "swap", id, "count", "nope")
	refused(exitRefused, "forbidden import env.foo", "job", "swap", id, "count", filepath.Join(dir, "imp.wasm"))
	refused(exitRefused, "requires Weir ABI v2; this host serves v1", "job", "swap", id, "count", write("v2.wasm", abiV2))
	refused(exitRefused, "v99 refuses to take over from sha256:", "job", "swap", id, "count", refuser, "--migrate")
	refused(exitRefused, "used by", "module", "rm", "vcount")
	if j, _ := s.getJob(id); j.State != "JOB_STATE_RUNNING" || len(j.ModuleHistory) > 1 {
		t.Errorf("after refused swaps the job is %+v, want it running on its first module", j)
	}
	// A module whose migrate step accepts is swapped in.
	s.mustCLI("job", "swap", id, "count", paths[1], "--migrate")
	if j, _ := s.getJob(id); len(j.ModuleHistory) != 2 {
		t.Errorf("after a migrated swap the module history is %+v, want 2 entries", j.ModuleHistory)
	}

	// Raw HTTP: traversal in the URL path, unknown routes.
	for _, p := range []string{"/../../etc/passwd", "/weir.v1.JobService/%2e%2e", "/weir.v1.Nope/List", "/weir.v1.JobService/Cancel"} {
		res, err := http.Post(s.url()+p, "application/json", strings.NewReader(`{"id": "a\u0000b/../x"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Errorf("POST %s: %d, want 4xx", p, res.StatusCode)
		}
	}
	s.mustCLI("job", "cancel", id)

	// Nothing was written outside the data directory.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); n != "data" && n != "outside" && !strings.HasSuffix(n, ".wasm") && !strings.HasSuffix(n, ".yaml") {
			t.Errorf("%s appeared beside the data directory", n)
		}
	}
	if e, _ := os.ReadDir(outside); len(e) != 0 {
		t.Errorf("a job wrote through the symbolic link: %v", e)
	}

	// Tokens.
	t.Run("token", func(t *testing.T) {
		tokenFile := write("token", []byte("s3cret\n"))
		ts := startServer(t, bin, filepath.Join(dir, "data2"), "--token-file", tokenFile)
		if _, errs, code := ts.cli("job", "ls"); code != exitAuth {
			t.Errorf("job ls without a token: exit %d %s, want %d", code, errs, exitAuth)
		}
		write("wrong", []byte("guess"))
		if _, errs, code := ts.cli("job", "ls", "--token-file", filepath.Join(dir, "wrong")); code != exitAuth {
			t.Errorf("job ls with a wrong token: exit %d %s, want %d", code, errs, exitAuth)
		}
		if _, errs, code := ts.cli("job", "ls", "--token-file", tokenFile); code != exitOK {
			t.Errorf("job ls with the token: exit %d %s", code, errs)
		}
		for _, p := range []string{"/weir.v1.JobService/List", "/metrics"} {
			res, err := http.Post(ts.url()+p, "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("POST %s without a token: %d, want 401", p, res.StatusCode)
			}
		}
	})
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirstream/weir/internal/wasmbuild"
)

// weir runs the command in-process and returns its exit code and output.
func weir(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := weirMain(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// copyExample copies examples/<name>'s job spec and data into a temporary
// directory with freshly built modules, so that runs do not write into the tree.
func copyExample(t *testing.T, name string, modules ...string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "examples", name)
	for _, f := range []string{"job.yaml", "input.txt"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range modules {
		wasm, err := os.ReadFile(wasmbuild.MustGo(t, filepath.Join(src, m, "wasm")))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, m+".wasm"), wasm, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRunWordCountExample(t *testing.T) {
	dir := copyExample(t, "wordcount", "split", "count")
	spec, data := filepath.Join(dir, "job.yaml"), filepath.Join(dir, "data")
	code, _, stderr := weir(t, "run", "--progress", "0", "--data-dir", data, spec)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "wordcount finished") {
		t.Errorf("no summary in stderr:\n%s", stderr)
	}
	out := committed(t, dir)
	found := false
	for _, l := range out {
		if l == "weir\t8" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no \"weir\\t8\" among %d committed lines: %.200q", len(out), out)
	}

	// A rerun finds the job finished and changes nothing.
	if code, _, stderr := weir(t, "run", "--progress", "0", "--data-dir", data, spec); code != 0 {
		t.Fatalf("rerun: exit %d\n%s", code, stderr)
	}
	if again := committed(t, dir); strings.Join(again, "\n") != strings.Join(out, "\n") {
		t.Fatal("the rerun changed the committed output")
	}

	// checkpoints lists the finished checkpoint; savepoint copies it.
	code, stdout, stderr := weir(t, "checkpoints", "--data-dir", data, spec)
	if code != 0 || !strings.Contains(stdout, "true") {
		t.Fatalf("checkpoints: exit %d\n%s%s", code, stdout, stderr)
	}
	sp := filepath.Join(dir, "sp")
	code, stdout, stderr = weir(t, "savepoint", "--data-dir", data, spec, sp)
	if code != 0 || !strings.Contains(stdout, "written to") {
		t.Fatalf("savepoint: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(sp, "SAVEPOINT")); err != nil {
		t.Fatal(err)
	}
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: j\nsources:\n  - name: s\n    kind: fiel\n"), 0o644)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("name: j\nsources: [{name: s, kind: datagen, options: {count: 1}}]\nsinks: [{name: o, kind: console, from: s}]\n"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, exitUsage, "Usage:"},
		{"unknown command", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"run without spec", []string{"run"}, exitUsage, "want JOBSPEC"},
		{"bad flag", []string{"run", "--nope", "x"}, exitUsage, "flag provided but not defined"},
		{"bad log level", []string{"run", "--log-level", "loud", bad}, exitUsage, `-log-level "loud"`},
		{"bad state cache", []string{"run", "--state-cache", "lots", bad}, exitUsage, "-state-cache"},
		{"missing spec", []string{"run", filepath.Join(dir, "nope.yaml")}, exitFail, "nope.yaml"},
		{"bad spec", []string{"run", "--data-dir", dir, bad}, exitFail, `unknown source kind "fiel"`},
		{"savepoint without checkpoint", []string{"savepoint", "--data-dir", dir, good, filepath.Join(dir, "sp")}, exitFail, "no complete checkpoint"},
		{"version", []string{"version"}, exitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := weir(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Fatalf("exit %d (want %d), output:\n%s%s\nwant it to contain %q", code, tt.code, stdout, stderr, tt.want)
			}
		})
	}
}

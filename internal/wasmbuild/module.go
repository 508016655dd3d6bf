package wasmbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GoModule builds the main package pkg (an import path, or a path relative to
// moduleDir such as "./upper") of the Go module in moduleDir into a .wasm file
// and returns its path. Unlike Go, it is for code whose module is not the
// Weir module: moduleDir must hold a go.mod of its own (with its go.sum), so
// that its dependencies (for example github.com/extism/go-pdk) stay out of
// Weir's go.mod. The build uses that go.mod alone (GOWORK=off,
// -mod=readonly): a missing go.sum entry is an error rather than an edit.
// Results are kept for the life of the process.
func GoModule(moduleDir, pkg string) (string, error) {
	abs, err := filepath.Abs(moduleDir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
		return "", fmt.Errorf("build %s in %s: the directory is not the root of a Go module: %w", pkg, moduleDir, err)
	}
	id := abs + "\x00" + pkg
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[id]; ok {
		return p, nil
	}
	sum := sha256.Sum256([]byte(id))
	outDir := filepath.Join(os.TempDir(), "weir-wasmbuild")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	base := filepath.Base(strings.TrimRight(filepath.ToSlash(pkg), "/"))
	out := filepath.Join(outDir, base+"-"+hex.EncodeToString(sum[:6])+".wasm")
	// NB: as in Go, each build writes a file of its own and renames it, so that
	// parallel test binaries never read a half-written module.
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	cmd := exec.Command("go", "build", "-mod=readonly", "-buildvcs=false", "-buildmode=c-shared", "-o", tmp, pkg)
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s in module %s for wasip1: %v\n%s", pkg, moduleDir, err, msg)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	built[id] = out
	return out, nil
}

// MustGoModule is GoModule for tests and benchmarks: it fails tb on error.
func MustGoModule(tb testing.TB, moduleDir, pkg string) string {
	tb.Helper()
	p, err := GoModule(moduleDir, pkg)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

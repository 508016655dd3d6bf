// Package wasmbuild compiles guests to Weir Wasm modules for tests, examples
// and benchmarks:
//   - Go (Go and GoModule): standard Go, GOOS=wasip1 GOARCH=wasm,
//     -buildmode=c-shared (a WASI reactor with //go:wasmexport functions);
//   - Rust (rust.go): Debian's rustc for wasm32-unknown-unknown, the SDK as an
//     rlib and the operator as a cdylib;
//   - C (c.go): clang for freestanding wasm32 with sdk/c/weir.h.
//
// Each builder caches its results for the life of the process (Rust also
// across processes, by content hash).
package wasmbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	built = map[string]string{} // package dir -> wasm path, per process
)

// Go builds the Go package in dir (a directory path, absolute or relative to the
// caller's working directory) into a .wasm file and returns its path. Results are
// kept for the life of the process; the go build cache makes rebuilds cheap.
func Go(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[abs]; ok {
		return p, nil
	}
	sum := sha256.Sum256([]byte(abs))
	outDir := filepath.Join(os.TempDir(), "weir-wasmbuild")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(outDir, filepath.Base(abs)+"-"+hex.EncodeToString(sum[:6])+".wasm")
	// NB: test binaries of several packages build in parallel; each writes its
	// own temporary file and renames it, so none reads a half-written module.
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", tmp, ".")
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s for wasip1: %v\n%s", dir, err, msg)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	built[abs] = out
	return out, nil
}

// MustGo is Go for tests and benchmarks: it fails tb on error.
func MustGo(tb testing.TB, dir string) string {
	tb.Helper()
	p, err := Go(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

package wasmbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// cFlags are the clang flags of every C guest: freestanding wasm32 (no libc;
// sdk/c/weir.h brings what a guest needs), memcpy and memset as the bulk
// memory instructions, the Weir C SDK on the include path (added by C), no
// entry point (a Weir module is a library the host calls), the stack below
// the data so that an overflow traps instead of corrupting it, and warnings
// as errors.
var cFlags = []string{
	"--target=wasm32", "-nostdlib", "-O2", "-mbulk-memory",
	"-std=c11", "-Wall", "-Wextra", "-Werror",
	"-Wl,--no-entry", "-Wl,--stack-first", "-Wl,-z,stack-size=" + fmt.Sprint(cStackBytes),
}

// cStackBytes is the shadow stack of a C guest, in bytes.
const cStackBytes = 256 << 10

var (
	cMu    sync.Mutex
	cBuilt = map[string]string{} // source path -> wasm path, per process
)

// C compiles the C guest src (a .c file, or a directory whose .c files make
// one module) with clang for wasm32 into a .wasm file and returns its path.
// The directory of the Weir C SDK (sdk/c, with weir.h) is on the include
// path. Results are kept for the life of the process; clang is fast enough
// that nothing is cached across processes. It needs clang and wasm-ld
// (Debian's clang and lld; `make toolchains` installs them), and says so
// when they are missing.
func C(src string) (string, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", err
	}
	cMu.Lock()
	defer cMu.Unlock()
	if p, ok := cBuilt[abs]; ok {
		return p, nil
	}
	inputs, err := cSources(abs)
	if err != nil {
		return "", fmt.Errorf("build C guest %s: %w", src, err)
	}
	clang, linkFlag, err := cToolchain()
	if err != nil {
		return "", fmt.Errorf("build C guest %s: %w", src, err)
	}
	sdk, err := cSDKDir()
	if err != nil {
		return "", fmt.Errorf("build C guest %s: %w", src, err)
	}
	sum := sha256.Sum256([]byte(abs))
	outDir := filepath.Join(os.TempDir(), "weir-wasmbuild")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	name := strings.TrimSuffix(filepath.Base(abs), ".c")
	out := filepath.Join(outDir, "c-"+name+"-"+hex.EncodeToString(sum[:6])+".wasm")
	// NB: as Go does, write a file of our own and rename it, so that test
	// binaries building the same guest in parallel never read half a module.
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	args := slices.Concat(cFlags, linkFlag, []string{"-I", sdk, "-o", tmp}, inputs)
	cmd := exec.Command(clang, args...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("build C guest %s: %s %s: %v\n%s", src, clang, strings.Join(args, " "), err, msg)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	cBuilt[abs] = out
	return out, nil
}

// MustC is C for tests and benchmarks: it fails tb on error.
func MustC(tb testing.TB, src string) string {
	tb.Helper()
	p, err := C(src)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// cSources returns the .c files of the guest at abs: the file itself, or the
// .c files of the directory, sorted.
func cSources(abs string) ([]string, error) {
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		if filepath.Ext(abs) != ".c" {
			return nil, fmt.Errorf("%s is not a .c file", abs)
		}
		return []string{abs}, nil
	}
	files, err := filepath.Glob(filepath.Join(abs, "*.c"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .c files in %s", abs)
	}
	return files, nil
}

// cToolchain finds clang, and the linker flag clang needs when wasm-ld is
// only installed under its versioned name (Debian's lld-14 without the
// unversioned link).
func cToolchain() (clang string, linkFlag []string, err error) {
	for _, name := range []string{"clang", "clang-14"} {
		if p, err := exec.LookPath(name); err == nil {
			clang = p
			break
		}
	}
	if clang == "" {
		return "", nil, errors.New("clang is not installed: run `make toolchains` (Debian packages clang and lld)")
	}
	if _, err := exec.LookPath("wasm-ld"); err == nil {
		return clang, nil, nil
	}
	if p, err := exec.LookPath("wasm-ld-14"); err == nil {
		return clang, []string{"-fuse-ld=" + p}, nil
	}
	return "", nil, errors.New("wasm-ld is not installed: run `make toolchains` (Debian package lld)")
}

// cSDKDir returns the directory of the Weir C SDK, sdk/c, located from this
// source file (internal/wasmbuild) in the repository.
func cSDKDir() (string, error) {
	_, file, _, ok := goruntime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the Weir C SDK: no caller information")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "sdk", "c")
	if _, err := os.Stat(filepath.Join(dir, "weir.h")); err != nil {
		return "", fmt.Errorf("cannot locate the Weir C SDK: %w", err)
	}
	return dir, nil
}

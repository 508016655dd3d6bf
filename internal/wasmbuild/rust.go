package wasmbuild

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// RustTarget is the target Rust operators are built for.
const RustTarget = "wasm32-unknown-unknown"

// defaultRustc is Debian's rustc, which has the wasm32 standard library
// (package libstd-rust-dev-wasm32; scripts/install-toolchains.sh installs
// both). A rustup toolchain on PATH usually has no wasm target, so it is not
// used unless WEIR_RUSTC names it.
const defaultRustc = "/usr/bin/rustc"

// rustFlags are the code generation flags of every Rust build: the SDK and
// the operator are compiled with the same ones. Bulk memory operations make
// the copies of every emitted record one memory.copy instruction instead of
// a call to a byte loop (about half the cost of a stateless operator);
// wazero implements them, and Rust enables them by default from 1.82 on.
var rustFlags = []string{
	"--edition", "2021",
	"--target", RustTarget,
	"-C", "opt-level=3",
	"-C", "codegen-units=1",
	"-C", "strip=debuginfo",
	"-C", "target-feature=+bulk-memory",
}

var (
	rustBuilt = map[string]string{} // source path -> wasm path, per process
	rustcID   string                // `rustc -vV` of the compiler in use, per process
)

// Rust builds the Rust operator at src into a Weir Wasm module and returns
// the path of the .wasm file. src is a .rs file, or a crate directory whose
// source is src/lib.rs; either way the operator is compiled as a cdylib for
// wasm32-unknown-unknown, linked with the Rust SDK (sdk/rust, found in the
// nearest parent directory of src that has it, or at $WEIR_RUST_SDK), with
// rustc at $WEIR_RUSTC or /usr/bin/rustc. This is the plain-rustc build of
// sdk/rust/README.md: the SDK as an rlib, then the operator with --extern
// weir=that rlib.
//
// Results are kept for the life of the process, and on disk in the
// temporary directory under a hash of the compiler, the flags and every
// source file, so that an unchanged operator is not compiled again.
func Rust(src string) (string, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", err
	}
	mu.Lock()
	defer mu.Unlock()
	if p, ok := rustBuilt[abs]; ok {
		return p, nil
	}
	rustc := os.Getenv("WEIR_RUSTC")
	if rustc == "" {
		rustc = defaultRustc
	}
	if rustcID == "" {
		out, err := exec.Command(rustc, "-vV").Output()
		if err != nil {
			return "", fmt.Errorf("build rust %s: run %s -vV: %v (install it with scripts/install-toolchains.sh, or set WEIR_RUSTC)", src, rustc, err)
		}
		rustcID = string(out)
	}
	sdk, err := rustSDK(abs)
	if err != nil {
		return "", fmt.Errorf("build rust %s: %w", src, err)
	}
	lib, name, err := rustCrate(abs)
	if err != nil {
		return "", fmt.Errorf("build rust %s: %w", src, err)
	}
	outDir := filepath.Join(os.TempDir(), "weir-wasmbuild", "rust")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}

	sdkHash, err := hashSources(rustcID, strings.Join(rustFlags, " "), filepath.Join(sdk, "src"))
	if err != nil {
		return "", fmt.Errorf("build rust %s: hash the SDK: %w", src, err)
	}
	// NB: paths in the binaries (panic locations) are made relative to the
	// repository, so that a module does not depend on where it was built.
	remap := []string{"--remap-path-prefix", filepath.Dir(filepath.Dir(sdk)) + string(filepath.Separator) + "="}
	rlib := filepath.Join(outDir, "libweir-"+sdkHash+".rlib")
	if _, err := os.Stat(rlib); err != nil {
		args := append([]string{"--crate-type", "rlib", "--crate-name", "weir"}, rustFlags...)
		args = append(args, remap...)
		if err := runRustc(rustc, rlib, append(args, filepath.Join(sdk, "src", "lib.rs"))); err != nil {
			return "", fmt.Errorf("build the rust SDK %s: %w", sdk, err)
		}
	}

	srcRoot := filepath.Dir(lib)
	if filepath.Ext(abs) == ".rs" {
		srcRoot = abs
	}
	opHash, err := hashSources(sdkHash, name, srcRoot)
	if err != nil {
		return "", fmt.Errorf("build rust %s: hash the sources: %w", src, err)
	}
	out := filepath.Join(outDir, name+"-"+opHash+".wasm")
	if _, err := os.Stat(out); err != nil {
		args := append([]string{"--crate-type", "cdylib", "--crate-name", name}, rustFlags...)
		args = append(args, remap...)
		args = append(args, "--extern", "weir="+rlib, lib)
		if err := runRustc(rustc, out, args); err != nil {
			return "", fmt.Errorf("build rust %s: %w", src, err)
		}
	}
	rustBuilt[abs] = out
	return out, nil
}

// MustRust is Rust for tests and benchmarks: it fails tb on error.
func MustRust(tb testing.TB, src string) string {
	tb.Helper()
	p, err := Rust(src)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// runRustc runs rustc with args, writing its output to out through a
// temporary file that it renames: test binaries of several packages build in
// parallel, and none may read a half-written file.
func runRustc(rustc, out string, args []string) error {
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	cmd := exec.Command(rustc, append(args, "-o", tmp)...)
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s %s: %v\n%s", rustc, strings.Join(args, " "), err, msg.String())
	}
	return os.Rename(tmp, out)
}

// rustSDK returns the directory of the Rust SDK crate: $WEIR_RUST_SDK, or
// sdk/rust in the nearest parent directory of src that has it.
func rustSDK(src string) (string, error) {
	if d := os.Getenv("WEIR_RUST_SDK"); d != "" {
		return filepath.Abs(d)
	}
	for d := filepath.Dir(src); ; d = filepath.Dir(d) {
		sdk := filepath.Join(d, "sdk", "rust")
		if _, err := os.Stat(filepath.Join(sdk, "src", "lib.rs")); err == nil {
			return sdk, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no sdk/rust/src/lib.rs in a parent directory of %s (set WEIR_RUST_SDK)", src)
		}
	}
}

// rustCrate returns the crate root of the operator at src (the .rs file, or
// src/lib.rs of a crate directory) and its crate name (the file or directory
// name, as a Rust identifier).
func rustCrate(src string) (lib, name string, err error) {
	st, err := os.Stat(src)
	if err != nil {
		return "", "", err
	}
	if st.IsDir() {
		lib = filepath.Join(src, "src", "lib.rs")
		if _, err := os.Stat(lib); err != nil {
			return "", "", fmt.Errorf("a crate directory needs src/lib.rs: %w", err)
		}
		name = filepath.Base(src)
	} else {
		if filepath.Ext(src) != ".rs" {
			return "", "", fmt.Errorf("%s is neither a .rs file nor a crate directory", src)
		}
		lib, name = src, strings.TrimSuffix(filepath.Base(src), ".rs")
	}
	ident := []byte(name)
	for i, c := range ident {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			ident[i] = '_'
		}
	}
	if len(ident) == 0 || ident[0] >= '0' && ident[0] <= '9' {
		ident = append([]byte("op_"), ident...)
	}
	return lib, string(ident), nil
}

// hashSources returns a short hash of the strings salt and of every .rs file
// at root (a file, or a directory walked recursively), names and contents.
func hashSources(salt1, salt2, root string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q\n", salt1, salt2)
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && filepath.Ext(p) == ".rs" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(root, f)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

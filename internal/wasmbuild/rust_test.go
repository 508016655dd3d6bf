package wasmbuild

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sdkDir is the Rust SDK, relative to this package.
const sdkDir = "../../sdk/rust"

// TestRust builds Rust operators in both forms (a .rs file and a crate
// directory) and checks that each is a Wasm module with the ABI's exports,
// and that a second build in the process returns the same file.
func TestRust(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"file", filepath.Join(sdkDir, "conformance", "cases", "poison.rs")},
		{"crate", filepath.Join(sdkDir, "conformance", "upper")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Rust(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("\x00asm")) {
				t.Fatalf("%s is not a Wasm module", p)
			}
			for _, export := range []string{"weir_v1_reserve", "weir_v1_init", "weir_v1_process"} {
				if !bytes.Contains(b, []byte(export)) {
					t.Errorf("%s has no %s", p, export)
				}
			}
			if bytes.Contains(b, []byte(mustAbs(t, sdkDir))) {
				t.Errorf("%s holds an absolute path of the build machine", p)
			}
			again, err := Rust(tc.src)
			if err != nil || again != p {
				t.Fatalf("second build: %q, %v; want %q", again, err, p)
			}
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRustErrors checks what Rust says about sources it cannot build.
func TestRustErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("WEIR_RUST_SDK", mustAbs(t, sdkDir))
	for _, tc := range []struct {
		name, src, want string
	}{
		{"not rust", write("op.c", "int x;"), "neither a .rs file nor a crate directory"},
		{"crate without lib.rs", filepath.Dir(write("empty/Cargo.toml", "")), "a crate directory needs src/lib.rs"},
		{"missing", filepath.Join(dir, "nothing.rs"), "no such file"},
		{"compile error", write("broken.rs", "fn main( {}\n"), "broken.rs"},
		{"not an operator", write("plain.rs", "pub fn f() {}\n"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Rust(tc.src)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want a build", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestRustCrateName checks the crate names Rust derives from paths.
func TestRustCrateName(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ file, want string }{
		{"upper.rs", "upper"},
		{"my-op.rs", "my_op"},
		{"1st.rs", "op_1st"},
	} {
		p := filepath.Join(dir, tc.file)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, name, err := rustCrate(p); err != nil || name != tc.want {
			t.Errorf("rustCrate(%q) = %q, %v; want %q", tc.file, name, err, tc.want)
		}
	}
}

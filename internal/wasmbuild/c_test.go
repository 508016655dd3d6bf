package wasmbuild

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestC builds C guests from a file and from a directory of files, and
// checks the errors for what cannot be built.
func TestC(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const op = "#include \"weir.h\"\nstatic int f(const weir_batch *b, const weir_entry *e) { (void)b; (void)e; return helper(); }\nWEIR_OPERATOR(f, NULL)\n"
	one := write("one/op.c", "static int helper(void) { return 0; }\n"+op)
	write("two/helper.c", "int helper(void) { return 0; }\n")
	write("two/op.c", "int helper(void);\n"+op)
	broken := write("broken.c", "#include \"weir.h\"\nint f(void) { return undeclared; }\n")
	notC := write("op.cc", op)
	for _, tc := range []struct {
		name    string
		src     string
		wantErr string // "" if the build must succeed
	}{
		{"file", one, ""},
		{"directory", filepath.Join(dir, "two"), ""},
		{"compile error", broken, "undeclared"},
		{"not a .c file", notC, "is not a .c file"},
		{"missing", filepath.Join(dir, "missing.c"), "no such file"},
		{"empty directory", t.TempDir(), "no .c files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := C(tc.src)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("C(%s): got %v, want an error saying %q", tc.src, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wasm, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(wasm, []byte("\x00asm\x01\x00\x00\x00")) || !bytes.Contains(wasm, []byte("weir_v1_process")) {
				t.Fatalf("%s is not a Wasm module exporting weir_v1_process", p)
			}
			if again, err := C(tc.src); err != nil || again != p {
				t.Fatalf("second build: %q, %v; want the cached %q", again, err, p)
			}
		})
	}
}

package weir_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces the SDK's dependency rule (ARCHITECTURE.md): every
// package of this module imports the standard library and this module only,
// and nothing of the host module github.com/weirstream/weir.
func TestImports(t *testing.T) {
	const self = "github.com/weirstream/weir/sdk/go"
	fset := token.NewFileSet()
	n := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		n++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(p, "/")
			switch {
			case p == self || strings.HasPrefix(p, self+"/"):
			case strings.Contains(first, "."):
				t.Errorf("%s imports %s: the SDK may import the standard library and itself only", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("checked %d files; is the walk in the module root?", n)
	}
}

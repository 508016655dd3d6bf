package jobspec

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces the dependency rule of ARCHITECTURE.md for this
// package: the standard library, runtime, abi and the YAML parser only; never
// the Wasm host or a plugin (cmd/weir wires those in through a Registry).
func TestImports(t *testing.T) {
	allowed := map[string]bool{
		"github.com/weirstream/weir/runtime": true,
		"github.com/weirstream/weir/abi":     true,
		"go.yaml.in/yaml/v3":                 true,
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			std := !strings.Contains(strings.SplitN(path, "/", 2)[0], ".")
			if !std && !allowed[path] {
				t.Errorf("%s imports %s; jobspec may import only the standard library, runtime, abi and yaml", name, path)
			}
		}
	}
}

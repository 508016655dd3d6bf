package importrules

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/weirstream/weir"

// rule says what packages under prefix must not import (by import path
// prefix), and which external modules they may import at all (nil: any).
type rule struct {
	prefix   string
	except   []string // packages under prefix that other rules cover
	forbid   []string
	external []string // allowed non-standard-library prefixes; nil = no limit
}

// The rules of ARCHITECTURE.md ("Dependency rules"). Only non-test imports count:
// tests may wire real plugins together.
var rules = []rule{
	{prefix: module + "/abi", external: []string{}},
	{prefix: module + "/runtime", except: []string{module + "/runtime/server", module + "/runtime/api"}, forbid: []string{
		module + "/host", module + "/plugins", module + "/cmd", module + "/sdk",
		"github.com/tetratelabs/wazero", "github.com/extism", "github.com/cockroachdb/pebble",
		"github.com/nats-io", "github.com/twmb/franz-go", "github.com/minio", "github.com/aws",
		"github.com/jackc/pgx", "net/http",
	}, external: []string{module + "/abi", module + "/runtime", "go.yaml.in/yaml/v3"}},
	// The control plane: Connect handlers over net/http, but still no Wasm
	// runtime, no storage engine and no plugin (cmd hands them in).
	{prefix: module + "/runtime/server", forbid: []string{
		module + "/host", module + "/plugins", module + "/cmd", module + "/sdk",
		"github.com/tetratelabs/wazero", "github.com/extism", "github.com/cockroachdb/pebble",
	}, external: []string{module + "/abi", module + "/runtime", "go.yaml.in/yaml/v3", "connectrpc.com/connect", "google.golang.org/protobuf", "github.com/prometheus/client_golang"}},
	{prefix: module + "/runtime/api", external: []string{"connectrpc.com/connect", "google.golang.org/protobuf", module + "/runtime/api"}},
	{prefix: module + "/host", forbid: []string{module + "/plugins", module + "/cmd"}},
	{prefix: module + "/plugins", forbid: []string{module + "/host", module + "/cmd"}},
	{prefix: module + "/examples", forbid: []string{module + "/cmd"}},
}

type pkg struct {
	path    string
	imports []string
}

func listPackages(t *testing.T, dir string) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./...")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list in %s: %v\n%s", dir, err, ee.Stderr)
		}
		t.Fatalf("go list in %s: %v", dir, err)
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		pkgs = append(pkgs, pkg{path: f[0], imports: f[1:]})
	}
	return pkgs
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func under(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// TestImportRules fails when a package imports what ARCHITECTURE.md forbids.
func TestImportRules(t *testing.T) {
	pkgs := listPackages(t, repoRoot())
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		for _, r := range rules {
			if !under(p.path, r.prefix) || slices.ContainsFunc(r.except, func(e string) bool { return under(p.path, e) }) {
				continue
			}
			for _, imp := range p.imports {
				for _, f := range r.forbid {
					if under(imp, f) {
						t.Errorf("%s imports %s, which ARCHITECTURE.md forbids for %s", p.path, imp, r.prefix)
					}
				}
				if r.external != nil && !isStd(imp) && !allowed(imp, r.external) {
					t.Errorf("%s imports %s; %s may import only the standard library and %v", p.path, imp, r.prefix, r.external)
				}
			}
		}
		// A plugin imports no other plugin.
		if under(p.path, module+"/plugins") {
			own := strings.Join(strings.SplitN(p.path, "/", 6)[:5], "/")
			for _, imp := range p.imports {
				if under(imp, module+"/plugins") && !under(imp, own) {
					t.Errorf("plugin %s imports another plugin, %s", p.path, imp)
				}
			}
		}
	}
}

// TestSDKImportsNoHost checks that the guest SDK module imports nothing of the
// host module (it is a separate module users build to Wasm).
func TestSDKImportsNoHost(t *testing.T) {
	pkgs := listPackages(t, filepath.Join(repoRoot(), "sdk", "go"))
	for _, p := range pkgs {
		for _, imp := range p.imports {
			if under(imp, module) && !under(imp, module+"/sdk") {
				t.Errorf("SDK package %s imports %s of the host module", p.path, imp)
			}
		}
	}
}

func allowed(imp string, prefixes []string) bool {
	for _, a := range prefixes {
		if under(imp, a) {
			return true
		}
	}
	return false
}

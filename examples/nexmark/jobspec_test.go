package nexmark_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirstream/weir/examples/nexmark"
	"github.com/weirstream/weir/examples/nexmark/text"
	"github.com/weirstream/weir/host/native"
	"github.com/weirstream/weir/plugins/file"
	nexmarksource "github.com/weirstream/weir/plugins/nexmark"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/jobspec"
)

var update = flag.Bool("update", false, "rewrite the job specs q<N>.yaml from the catalog")

// specYAML returns the job spec of q: the catalog's graph at parallelism 2
// with checkpoints every 10 s, ending in the text operator and a file sink.
func specYAML(q nexmark.Query) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# Nexmark %s (docs/nexmark.md §8). Generated from the catalog in\n", q.Name)
	sb.WriteString("# examples/nexmark/catalog.go by `go test ./examples/nexmark -run JobSpecs -update`.\n")
	sb.WriteString("# Build the modules with `make wasm`; the committed results are written, as\n")
	fmt.Fprintf(&sb, "# canonical lines, under out/%s/.\n", q.Name)
	fmt.Fprintf(&sb, "name: nexmark-%s\nparallelism: 2\ncheckpoint: {interval: 10s}\n", q.Name)
	sb.WriteString("sources:\n  - name: events\n    kind: nexmark\n    watermark: {outOfOrderness: 0s}\n")
	sb.WriteString("    options: {events: 1000000, splits: 2, eventsPerSecond: 10000}\n")
	sb.WriteString("operators:\n")
	from := nexmark.SourceName
	for _, s := range append(q.Stages, nexmark.Stage{Name: "text"}) {
		fmt.Fprintf(&sb, "  - name: %s\n    module: %s.wasm\n", s.Name, s.Name)
		if s.Keyed {
			fmt.Fprintf(&sb, "    inputs: [{from: %s, partition: keyBy}]\n", from)
		} else {
			fmt.Fprintf(&sb, "    from: %s\n", from)
		}
		from = s.Name
	}
	fmt.Fprintf(&sb, "sinks:\n  - name: out\n    kind: file\n    from: text\n    options: {path: out/%s}\n", q.Name)
	return sb.String()
}

// TestJobSpecs checks that q<N>.yaml is the catalog's graph, and that each
// loads with the nexmark source and the file sink, every module it names
// being an operator of the catalog with a Wasm main.
func TestJobSpecs(t *testing.T) {
	stages := map[string]nexmark.Stage{"text": {Name: "text", Operator: text.Operator}}
	for _, q := range nexmark.Queries {
		for _, s := range q.Stages {
			stages[s.Name] = s
		}
	}
	reg := jobspec.Registry{
		Sources: map[string]jobspec.SourceFactory{"nexmark": nexmarksource.NewSource},
		Sinks:   map[string]jobspec.SinkFactory{"file": file.NewSink},
		LoadModule: func(path string, _ jobspec.ModuleLimits) (runtime.OperatorFactory, error) {
			s, ok := stages[strings.TrimSuffix(filepath.Base(path), ".wasm")]
			if !ok {
				return nil, fmt.Errorf("module %s is no operator of the catalog", path)
			}
			if _, err := os.Stat(nexmark.WasmMain(s)); err != nil {
				return nil, fmt.Errorf("module %s has no Wasm main: %w", path, err)
			}
			return native.Factory(s.Operator), nil
		},
	}
	for _, q := range nexmark.Queries {
		t.Run(q.Name, func(t *testing.T) {
			path := q.Name + ".yaml"
			want := specYAML(q)
			if *update {
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if string(got) != want {
				t.Fatalf("%s is not the catalog's graph (run with -update):\n%s", path, want)
			}
			job, err := jobspec.Load(path, reg)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(job.Operators); n != len(q.Stages)+1 {
				t.Fatalf("%s has %d operators, want %d", path, n, len(q.Stages)+1)
			}
		})
	}
}

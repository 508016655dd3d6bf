package windowcountrust_test

import (
	"os"
	"strings"
	"testing"

	"github.com/weirstream/weir/examples/windowcount/windowcounttest"
	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/jobspec"
)

// TestWindow is the Go example's TestWindow against the Rust build.
func TestWindow(t *testing.T) {
	windowcounttest.Window(t, examplerun.Harness(t, examplerun.Rust(t, "window"), runtime.OperatorInfo{Name: "window", Keyed: true}))
}

// TestWindowCountJob runs the Rust operator through the engine and checks the
// committed counts against the Go example's reference; and once more with the
// Go build of the operator, which must commit the same lines.
func TestWindowCountJob(t *testing.T) {
	windowcounttest.Job(t, "windowcount-rust",
		windowcounttest.Build{Name: "rust", Op: func(t *testing.T) runtime.OperatorFactory { return examplerun.Rust(t, "window") }},
		windowcounttest.Build{Name: "go", Op: func(t *testing.T) runtime.OperatorFactory { return examplerun.Wasm(t, "../windowcount/window/wasm") }},
	)
}

// TestJobSpec checks that job.yaml is a valid job spec that runs the module.
func TestJobSpec(t *testing.T) {
	data, err := os.ReadFile("job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := jobspec.Parse(data, "job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name() != "windowcount-rust" {
		t.Fatalf("job name %q, want windowcount-rust", spec.Name())
	}
	if !strings.Contains(string(data), "module: window.wasm") {
		t.Error("job.yaml does not run window.wasm")
	}
}

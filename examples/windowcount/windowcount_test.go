package windowcount_test

import (
	"testing"

	"github.com/weirstream/weir/examples/windowcount/window"
	"github.com/weirstream/weir/examples/windowcount/windowcounttest"
	"github.com/weirstream/weir/host/native"
	"github.com/weirstream/weir/internal/examplerun"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

func TestWindow(t *testing.T) { windowcounttest.Window(t, weirtest.New(t, window.Operator, nil)) }

func TestWindowCountJob(t *testing.T) {
	windowcounttest.Job(t, "windowcount",
		windowcounttest.Build{Name: "wasm", Op: func(t *testing.T) runtime.OperatorFactory { return examplerun.Wasm(t, "window/wasm") }},
		windowcounttest.Build{Name: "native", Op: func(*testing.T) runtime.OperatorFactory { return native.Factory(window.Operator) }},
	)
}

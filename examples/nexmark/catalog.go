package nexmark

import (
	"fmt"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/weirstream/weir/examples/nexmark/bids"
	"github.com/weirstream/weir/examples/nexmark/q0"
	"github.com/weirstream/weir/examples/nexmark/q1"
	"github.com/weirstream/weir/examples/nexmark/q11"
	"github.com/weirstream/weir/examples/nexmark/q2"
	"github.com/weirstream/weir/examples/nexmark/q3"
	"github.com/weirstream/weir/examples/nexmark/q4"
	"github.com/weirstream/weir/examples/nexmark/q5"
	"github.com/weirstream/weir/examples/nexmark/q7"
	"github.com/weirstream/weir/examples/nexmark/q8"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
)

// Stage is one operator of a query.
type Stage struct {
	// Name is the operator's name in the job, and the directory of its Wasm
	// main: examples/nexmark/<Name>/wasm.
	Name string
	// Operator is the same operator for a native (in-process) run.
	Operator weir.Operator
	// Keyed says the stage's input is partitioned by key (keyBy); otherwise it
	// is a forward edge from the previous stage or the source.
	Keyed bool
}

// Query is one Nexmark query: its stages, in the order records flow.
type Query struct {
	Name   string
	Stages []Stage
}

// Queries lists the queries Weir implements, in order.
var Queries = []Query{
	{"q0", []Stage{{"q0", q0.Operator, false}}},
	{"q1", []Stage{{"q1", q1.Operator, false}}},
	{"q2", []Stage{{"q2", q2.Operator, false}}},
	{"q3", []Stage{{"q3filter", q3.Filter, false}, {"q3join", q3.Join, true}}},
	{"q4", []Stage{{"q4key", q4.Key, false}, {"q4winning", q4.Winning, true}, {"q4average", q4.Average, true}}},
	{"q5", []Stage{{"bidsbyauction", bids.ByAuction, false}, {"q5count", q5.Count, true}, {"q5hot", q5.Hot, true}}},
	{"q7", []Stage{{"bidsbyauction", bids.ByAuction, false}, {"q7local", q7.Local, true}, {"q7global", q7.Global, true}}},
	{"q8", []Stage{{"q8key", q8.Key, false}, {"q8join", q8.Join, true}}},
	{"q11", []Stage{{"bidsbybidder", bids.ByBidder, false}, {"q11", q11.Operator, true}}},
}

// Names returns the names of Queries.
func Names() []string {
	names := make([]string, len(Queries))
	for i, q := range Queries {
		names[i] = q.Name
	}
	return names
}

// Lookup returns the query named name, or an error that lists the known
// queries.
func Lookup(name string) (Query, error) {
	for _, q := range Queries {
		if q.Name == name {
			return q, nil
		}
	}
	return Query{}, fmt.Errorf("unknown nexmark query %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Dir returns the directory of this package's source (examples/nexmark), as
// it was when the calling binary was built: where the Wasm mains and the
// built modules are.
func Dir() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Dir(file)
}

// WasmMain returns the directory of the Wasm main package of stage s.
func WasmMain(s Stage) string { return filepath.Join(Dir(), s.Name, "wasm") }

// JobConfig is how Job builds a query's job.
type JobConfig struct {
	// Parallelism of the source, of every stage and of the sink (at least 1).
	Parallelism int
	// CheckpointInterval is the time between checkpoints (0: the runtime's
	// default).
	CheckpointInterval time.Duration
	// Operators returns the factory of a stage (a Wasm module or a native
	// operator).
	Operators func(Stage) (runtime.OperatorFactory, error)
}

// SourceName is the name of the source node in the jobs Job builds.
const SourceName = "events"

// Job returns the job of q: the source (its watermarks with no
// out-of-orderness: the generator's splits are in timestamp order), the
// query's stages connected as Stage.Keyed says, and sink, all with the
// configured parallelism.
func (q Query) Job(src runtime.Source, sink runtime.Sink, cfg JobConfig) (*runtime.Job, error) {
	if cfg.Parallelism < 1 {
		return nil, fmt.Errorf("nexmark %s: parallelism %d is less than 1", q.Name, cfg.Parallelism)
	}
	job := &runtime.Job{
		Name:       "nexmark-" + q.Name,
		Checkpoint: runtime.CheckpointConfig{Interval: cfg.CheckpointInterval},
		Restart:    runtime.RestartConfig{Attempts: runtime.NoRestarts},
		Sources:    []*runtime.SourceNode{{Name: SourceName, Parallelism: cfg.Parallelism, Source: src}},
	}
	from := SourceName
	for _, s := range q.Stages {
		f, err := cfg.Operators(s)
		if err != nil {
			return nil, fmt.Errorf("nexmark %s: operator %s: %w", q.Name, s.Name, err)
		}
		part := runtime.Forward
		if s.Keyed {
			part = runtime.KeyBy
		}
		job.Operators = append(job.Operators, &runtime.OperatorNode{
			Name: s.Name, Parallelism: cfg.Parallelism, Factory: f,
			Inputs: []runtime.Input{{From: from, Partition: part}},
		})
		from = s.Name
	}
	job.Sinks = []*runtime.SinkNode{{Name: "results", Parallelism: cfg.Parallelism, Sink: sink, Inputs: []runtime.Input{{From: from}}}}
	return job, nil
}

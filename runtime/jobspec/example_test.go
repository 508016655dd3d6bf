package jobspec_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/jobspec"
)

// lineSource stands in for a real source plugin in this example.
type lineSource struct{ path string }

func (s lineSource) Splits(context.Context) ([]string, error) { return []string{s.path}, nil }
func (s lineSource) Open(context.Context, string, []byte, runtime.SourceEnv) (runtime.SplitReader, error) {
	return nil, errors.New("not in this example")
}

// printSink stands in for a real sink plugin in this example.
type printSink struct{}

func (printSink) OpenWriter(context.Context, runtime.SinkInfo) (runtime.SinkWriter, error) {
	return nil, errors.New("not in this example")
}
func (printSink) Commit(context.Context, int64, [][]byte) error  { return nil }
func (printSink) Recover(context.Context, int64, [][]byte) error { return nil }

func ExampleLoad() {
	dir, err := os.MkdirTemp("", "jobspec-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	spec := `
name: wordcount
parallelism: 2
sources:
  - {name: lines, kind: file, parallelism: 1, options: {path: input.txt}}
operators:
  - {name: split, module: split.wasm, from: lines}
  - name: count
    module: count.wasm
    inputs: [{from: split, partition: keyBy}]
    config: {minCount: 2}
sinks:
  - {name: out, kind: console, from: count}
`
	path := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		panic(err)
	}

	// cmd/weir fills the registry with the real plugins and the Wasm host.
	reg := jobspec.Registry{
		Sources: map[string]jobspec.SourceFactory{
			"file": func(opts json.RawMessage, baseDir string) (runtime.Source, error) {
				var o struct{ Path string }
				if err := json.Unmarshal(opts, &o); err != nil {
					return nil, err
				}
				return lineSource{filepath.Join(baseDir, o.Path)}, nil
			},
		},
		Sinks: map[string]jobspec.SinkFactory{
			"console": func(json.RawMessage, string) (runtime.Sink, error) { return printSink{}, nil },
		},
		LoadModule: func(path string, lim jobspec.ModuleLimits) (runtime.OperatorFactory, error) {
			fmt.Println("load", filepath.Base(path))
			return runtime.OperatorFactoryFunc(func(context.Context, runtime.OperatorInfo) (runtime.Operator, error) {
				return nil, errors.New("not in this example")
			}), nil
		},
	}

	job, err := jobspec.Load(path, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("job", job.Name, "checkpoint every", job.Checkpoint.Interval)
	for _, o := range job.Operators {
		fmt.Printf("operator %s x%d from %s (%s) config=%s\n", o.Name, o.Parallelism, o.Inputs[0].From, o.Inputs[0].Partition, o.Config)
	}

	// A mistake is reported with its place in the file.
	bad := `
name: j
checkpoint: {interval: 1 sec}
sources: [{name: in, kind: file}]
sinks: [{name: out, kind: console, from: ni}]
`
	_, err = jobspec.Parse([]byte(bad), "bad.yaml")
	fmt.Println(err)
	// Output:
	// load split.wasm
	// load count.wasm
	// job wordcount checkpoint every 5s
	// operator split x2 from lines (rebalance) config=
	// operator count x2 from split (keyBy) config={"minCount":2}
	// bad.yaml:3:24: checkpoint.interval: "1 sec" is not a duration (examples: 500ms, 1s, 2m, 1h30m)
	// bad.yaml:5:42: sinks[0].from: unknown node "ni" (known: in)
}

package jobspec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/weirstream/weir/runtime"
)

// This file holds the fake plugins the tests register: they record what the
// spec handed them, and fail on request, so tests can see both.

// fakeOptions are the options every fake plugin understands.
type fakeOptions struct {
	Fail string `json:"fail"` // make the factory fail with this message
}

// decodeFakeOptions decodes opts strictly, as a real plugin should.
func decodeFakeOptions(opts json.RawMessage) error {
	var o fakeOptions
	dec := json.NewDecoder(strings.NewReader(string(opts)))
	if err := dec.Decode(&o); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if o.Fail != "" {
		return errors.New(o.Fail)
	}
	return nil
}

// fakeSource is a runtime.Source that remembers how it was made.
type fakeSource struct {
	kind    string
	opts    string
	baseDir string
}

func (s *fakeSource) Splits(context.Context) ([]string, error) { return []string{"only"}, nil }

func (s *fakeSource) Open(context.Context, string, []byte, runtime.SourceEnv) (runtime.SplitReader, error) {
	return nil, errors.New("fake source: not readable")
}

// fakeSink is a runtime.Sink that remembers how it was made.
type fakeSink struct {
	kind    string
	opts    string
	baseDir string
}

func (s *fakeSink) OpenWriter(context.Context, runtime.SinkInfo) (runtime.SinkWriter, error) {
	return nil, errors.New("fake sink: not writable")
}
func (s *fakeSink) Commit(context.Context, int64, [][]byte) error  { return nil }
func (s *fakeSink) Recover(context.Context, int64, [][]byte) error { return nil }

// fakeModule is a runtime.OperatorFactory that remembers its path and limits,
// and for an Extism plugin its function.
type fakeModule struct {
	path     string
	lim      ModuleLimits
	extism   bool
	function string
}

func (m *fakeModule) NewOperator(context.Context, runtime.OperatorInfo) (runtime.Operator, error) {
	return nil, errors.New("fake module: cannot instantiate")
}

// testRegistry has sources "file" and "datagen", sinks "file" and "console",
// and a module loader that fails for files named bad.wasm.
func testRegistry() Registry {
	src := func(kind string) SourceFactory {
		return func(opts json.RawMessage, baseDir string) (runtime.Source, error) {
			if err := decodeFakeOptions(opts); err != nil {
				return nil, err
			}
			return &fakeSource{kind: kind, opts: string(opts), baseDir: baseDir}, nil
		}
	}
	sink := func(kind string) SinkFactory {
		return func(opts json.RawMessage, baseDir string) (runtime.Sink, error) {
			if err := decodeFakeOptions(opts); err != nil {
				return nil, err
			}
			return &fakeSink{kind: kind, opts: string(opts), baseDir: baseDir}, nil
		}
	}
	return Registry{
		Sources: map[string]SourceFactory{"file": src("file"), "datagen": src("datagen")},
		Sinks:   map[string]SinkFactory{"file": sink("file"), "console": sink("console")},
		LoadModule: func(path string, lim ModuleLimits) (runtime.OperatorFactory, error) {
			if filepath.Base(path) == "bad.wasm" {
				return nil, fmt.Errorf("compile %s: invalid magic number", path)
			}
			return &fakeModule{path: path, lim: lim}, nil
		},
		LoadExtism: func(path, function string, lim ModuleLimits) (runtime.OperatorFactory, error) {
			if filepath.Base(path) == "bad.wasm" {
				return nil, fmt.Errorf("compile %s: invalid magic number", path)
			}
			return &fakeModule{path: path, lim: lim, extism: true, function: function}, nil
		},
	}
}

// summary renders a built job as text, one node a line, with baseDir shown as
// $DIR, for comparison with a table's expectation.
func summary(j *runtime.Job, baseDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "job %s maxParallelism=%d checkpoint=%s/%s/%d restart=%d/%s\n", j.Name, j.MaxParallelism,
		j.Checkpoint.Interval, j.Checkpoint.Timeout, j.Checkpoint.Retain, j.Restart.Attempts, j.Restart.Delay)
	inputs := func(ins []runtime.Input) string {
		var parts []string
		for _, in := range ins {
			parts = append(parts, fmt.Sprintf("%s:%d:%s", in.From, in.Port, in.Partition))
		}
		return strings.Join(parts, ",")
	}
	for _, n := range j.Sources {
		s := n.Source.(*fakeSource)
		fmt.Fprintf(&b, "source %s p=%d outOfOrderness=%s %s%s base=%s\n", n.Name, n.Parallelism, n.OutOfOrderness, s.kind, s.opts, s.baseDir)
	}
	for _, n := range j.Operators {
		if d, ok := n.Factory.(*runtime.DedupFactory); ok {
			fmt.Fprintf(&b, "operator %s p=%d in=%s dedup=%+v\n", n.Name, n.Parallelism, inputs(n.Inputs), d.Config)
			continue
		}
		m := n.Factory.(*fakeModule)
		module := m.path
		if m.extism {
			module = fmt.Sprintf("extism:%s(%s)", m.path, m.function)
		}
		onFailure := ""
		if f := n.OnFailure; f != (runtime.FailurePolicy{}) {
			onFailure = fmt.Sprintf(" onFailure=%v/%d/%v", f.Action, f.Retries, f.Backoff)
		}
		fmt.Fprintf(&b, "operator %s p=%d in=%s module=%s memory=%d callTimeout=%s config=%s%s\n", n.Name, n.Parallelism,
			inputs(n.Inputs), module, m.lim.MemoryBytes, m.lim.CallTimeout, n.Config, onFailure)
	}
	for _, n := range j.Sinks {
		s := n.Sink.(*fakeSink)
		fmt.Fprintf(&b, "sink %s p=%d in=%s %s%s base=%s\n", n.Name, n.Parallelism, inputs(n.Inputs), s.kind, s.opts, s.baseDir)
	}
	return strings.ReplaceAll(b.String(), baseDir, "$DIR")
}

package jobspec

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/weirstream/weir/runtime"
)

// FuzzParse feeds arbitrary bytes to Parse. It checks that Parse never panics,
// that every error it returns has a message and says where (the file name),
// and that a spec Parse accepts builds with a registry that has every kind it
// names: Parse must catch everything runtime.Job.Validate would.
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 60s ./runtime/jobspec
func FuzzParse(f *testing.F) {
	for _, c := range goodSpecs {
		f.Add([]byte(c.spec))
	}
	for _, c := range badSpecs {
		f.Add([]byte(c.spec))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if s != nil {
				t.Fatal("Parse returned a spec and an error")
			}
			checkErrors(t, err)
			return
		}
		reg := Registry{
			Sources: map[string]SourceFactory{},
			Sinks:   map[string]SinkFactory{},
			LoadModule: func(path string, lim ModuleLimits) (runtime.OperatorFactory, error) {
				return &fakeModule{path: path, lim: lim}, nil
			},
			LoadExtism: func(path, function string, lim ModuleLimits) (runtime.OperatorFactory, error) {
				return &fakeModule{path: path, lim: lim, extism: true, function: function}, nil
			},
		}
		for _, n := range s.nodes {
			switch n.kind {
			case sourceNode:
				reg.Sources[n.plugin] = func(opts json.RawMessage, _ string) (runtime.Source, error) {
					if !json.Valid(opts) {
						t.Errorf("invalid JSON options %q", opts)
					}
					return &fakeSource{}, nil
				}
			case sinkNode:
				reg.Sinks[n.plugin] = func(opts json.RawMessage, _ string) (runtime.Sink, error) {
					if !json.Valid(opts) {
						t.Errorf("invalid JSON options %q", opts)
					}
					return &fakeSink{}, nil
				}
			}
		}
		job, err := s.Build(reg, "/base")
		if err != nil {
			t.Fatalf("Parse accepted a spec that Build rejects: %v\nspec:\n%s", err, data)
		}
		for _, o := range job.Operators {
			if o.Config != nil && !json.Valid(o.Config) {
				t.Errorf("operator %s: invalid JSON config %q", o.Name, o.Config)
			}
		}
	})
}

// checkErrors checks that every error in a joined error has a message that
// starts with the file name.
func checkErrors(t *testing.T, err error) {
	t.Helper()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T is not a joined error: %v", err, err)
	}
	for _, e := range joined.Unwrap() {
		var se *Error
		if !errors.As(e, &se) {
			t.Fatalf("error %T is not an *Error: %v", e, e)
		}
		msg := e.Error()
		if se.Err == nil || se.Err.Error() == "" || !strings.HasPrefix(msg, "fuzz.yaml") {
			t.Fatalf("error without a message or a place: %q", msg)
		}
	}
}

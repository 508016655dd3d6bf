package jobspec

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/weirstream/weir/runtime"
)

// Registry resolves the source and sink kinds and the modules a spec names. The
// composition root (cmd/weir) fills it in with the plugins it links; tests use
// fakes.
type Registry struct {
	Sources map[string]SourceFactory // by kind, e.g. "file", "datagen"
	Sinks   map[string]SinkFactory   // by kind, e.g. "file", "console"
	Acks    map[string]AckFactory    // ack targets by kind, e.g. "nats"
	// LoadModule turns an operator's module path (already resolved against the
	// spec's directory) and its limits into a factory; it reports a missing file
	// or bad Wasm.
	LoadModule func(path string, lim ModuleLimits) (runtime.OperatorFactory, error)
	// LoadExtism turns the path of an operator of kind extism, an Extism
	// plugin, into a factory whose operators call the plugin's export function
	// once per batch ("" for the loader's default, weir_process_batch).
	LoadExtism func(path, function string, lim ModuleLimits) (runtime.OperatorFactory, error)
	// NewCaller makes the job's runtime.Caller from its endpoints (called only
	// when the spec has some).
	NewCaller func(endpoints []Endpoint) (runtime.Caller, error)
}

// SourceFactory makes a source from its options: a JSON object (the spec's
// options mapping, "{}" when there is none). Relative paths in the options are
// relative to baseDir, the directory of the spec. It should check the options
// completely, so that a bad spec fails before the job starts.
type SourceFactory func(opts json.RawMessage, baseDir string) (runtime.Source, error)

// SinkFactory makes a sink from its options, like SourceFactory.
type SinkFactory func(opts json.RawMessage, baseDir string) (runtime.Sink, error)

// AckFactory makes a job's ack target from its options, like SinkFactory.
type AckFactory func(opts json.RawMessage, baseDir string) (runtime.AckSink, error)

// ModuleLimits are the per-operator limits of a spec's limits field. A zero
// field means the host's default (abi/ABI.md §9: 256 MiB, 10 s).
type ModuleLimits struct {
	MemoryBytes int64         // guest memory; a whole number of 64 KiB pages, at most 4 GiB
	CallTimeout time.Duration // one call into the guest
}

// Build resolves the spec's plugins through reg and returns the job, with
// runtime defaults applied and validated. Module paths and the plugins'
// relative paths are resolved against baseDir. Every source and sink factory
// and every module load runs even after one fails, so that the error lists
// all the problems; each is an *Error whose Path is the node, like
// "sources[0] (lines)", and which wraps the plugin's error.
func (s *Spec) Build(reg Registry, baseDir string) (*runtime.Job, error) {
	l := errorList{file: s.file}
	s.checkKinds(reg, &l)
	job := &runtime.Job{
		Name:           s.name,
		MaxParallelism: s.maxParallelism,
		Checkpoint:     s.checkpoint,
		Restart:        s.restart,
	}
	if len(s.endpoints) > 0 {
		switch c, err := s.newCaller(reg); {
		case err != nil:
			l.atPos(s.endpointsAt, "endpoints", err)
		default:
			job.Caller = c
		}
		for _, e := range s.endpoints {
			if e.JournalTTL > 0 {
				if job.CallJournalTTL == nil {
					job.CallJournalTTL = map[string]time.Duration{}
				}
				job.CallJournalTTL[e.Name] = e.JournalTTL
			}
		}
	}
	if a := s.acks; a != nil {
		if f := reg.Acks[a.plugin]; f != nil {
			switch t, err := f(a.options, baseDir); {
			case err != nil:
				l.atPos(a.optAt, "acks", fmt.Errorf("options: %w", err))
			default:
				job.Acks = t
			}
		}
	}
	noLoader, noExtism := false, false
	var binders []boundNode
	for _, n := range s.nodes {
		switch n.kind {
		case sourceNode:
			f := reg.Sources[n.plugin]
			if f == nil {
				continue // reported by checkKinds
			}
			src, err := f(n.options, baseDir)
			if err != nil {
				l.atPos(n.optAt, n.label(), fmt.Errorf("options: %w", err))
				continue
			}
			if b, ok := src.(runtime.JobBinder); ok {
				binders = append(binders, boundNode{n, b})
			}
			job.Sources = append(job.Sources, &runtime.SourceNode{
				Name: n.name, Parallelism: n.parallelism, Source: src, OutOfOrderness: n.outOfOrderness,
			})
		case sinkNode:
			f := reg.Sinks[n.plugin]
			if f == nil {
				continue
			}
			sink, err := f(n.options, baseDir)
			if err != nil {
				l.atPos(n.optAt, n.label(), fmt.Errorf("options: %w", err))
				continue
			}
			if b, ok := sink.(runtime.JobBinder); ok {
				binders = append(binders, boundNode{n, b})
			}
			job.Sinks = append(job.Sinks, &runtime.SinkNode{
				Name: n.name, Parallelism: n.parallelism, Inputs: runtimeInputs(n), Sink: sink,
			})
		case operatorNode:
			if n.dedup != nil {
				job.Operators = append(job.Operators, &runtime.OperatorNode{
					Name: n.name, Parallelism: n.parallelism, Inputs: runtimeInputs(n), Factory: runtime.NewDedup(*n.dedup),
					OnFailure: n.onFailure,
				})
				continue
			}
			switch {
			case n.extism && reg.LoadExtism == nil:
				if !noExtism {
					l.atPos(n.moduleAt, n.label(), fmt.Errorf("module %s: the registry has no Extism plugin loader", q(n.module)))
					noExtism = true
				}
				continue
			case !n.extism && reg.LoadModule == nil:
				if !noLoader {
					l.atPos(n.moduleAt, n.label(), fmt.Errorf("module %s: the registry has no module loader", q(n.module)))
					noLoader = true
				}
				continue
			}
			path := n.module
			if !filepath.IsAbs(path) {
				path = filepath.Join(baseDir, path)
			}
			var fac runtime.OperatorFactory
			var err error
			if n.extism {
				fac, err = reg.LoadExtism(path, n.function, n.limits)
			} else {
				fac, err = reg.LoadModule(path, n.limits)
			}
			if err != nil {
				l.atPos(n.moduleAt, n.label(), fmt.Errorf("module %s: %w", q(n.module), err))
				continue
			}
			job.Operators = append(job.Operators, &runtime.OperatorNode{
				Name: n.name, Parallelism: n.parallelism, Inputs: runtimeInputs(n), Factory: fac, Config: n.config,
				OnFailure: n.onFailure, Journal: n.journal,
			})
		}
	}
	s.insertDedup(job, &l)
	if err := l.join(); err != nil {
		return nil, err
	}
	// NB: Parse has checked all that Validate checks, with line numbers; this is
	// the backstop that keeps the two in step.
	if err := job.WithDefaults().Validate(); err != nil {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				l.at(nil, "", e)
			}
		} else {
			l.at(nil, "", err)
		}
		return nil, l.join()
	}
	for _, b := range binders {
		if err := b.binder.BindJob(job, b.n.name); err != nil {
			l.atPos(b.n.optAt, b.n.label(), fmt.Errorf("options: %w", err))
		}
	}
	if err := l.join(); err != nil {
		return nil, err
	}
	return job, nil
}

// boundNode is a source or sink that implements runtime.JobBinder.
type boundNode struct {
	n      *node
	binder runtime.JobBinder
}

// checkKinds reports the source and sink kinds that reg does not have.
func (s *Spec) checkKinds(reg Registry, l *errorList) {
	if a := s.acks; a != nil && a.pluginAt != (pos{}) && reg.Acks[a.plugin] == nil {
		var known []string
		for k, f := range reg.Acks {
			if f != nil {
				known = append(known, k)
			}
		}
		sort.Strings(known)
		list := "none are registered"
		if len(known) > 0 {
			list = "known: " + strings.Join(known, ", ")
		}
		l.atPos(a.pluginAt, "acks.kind", fmt.Errorf("unknown ack target kind %s (%s)", q(a.plugin), list))
	}
	for _, n := range s.nodes {
		var known []string
		switch n.kind {
		case sourceNode:
			if reg.Sources[n.plugin] != nil {
				continue
			}
			for k, f := range reg.Sources {
				if f != nil {
					known = append(known, k)
				}
			}
		case sinkNode:
			if reg.Sinks[n.plugin] != nil {
				continue
			}
			for k, f := range reg.Sinks {
				if f != nil {
					known = append(known, k)
				}
			}
		default:
			continue
		}
		if n.pluginAt == (pos{}) {
			continue // the kind is missing or not a string: reported by Parse
		}
		sort.Strings(known)
		list := "none are registered"
		if len(known) > 0 {
			list = "known: " + strings.Join(known, ", ")
		}
		l.atPos(n.pluginAt, n.path+".kind", fmt.Errorf("unknown %s kind %s (%s)", n.kind, q(n.plugin), list))
	}
}

// runtimeInputs converts a node's inputs.
func runtimeInputs(n *node) []runtime.Input {
	out := make([]runtime.Input, len(n.inputs))
	for i, in := range n.inputs {
		out[i] = runtime.Input{From: in.from, Port: in.port, Partition: in.partition}
	}
	return out
}

// Load reads the job spec file at path, parses it and builds it with reg.
// Relative paths in the spec (modules, plugin options) are resolved against
// the directory of path. Errors name the file as path was given. When the
// spec has errors, Load reports unknown source and sink kinds with them, but
// runs no plugin factory and loads no module.
func Load(path string, reg Registry) (*runtime.Job, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	baseDir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("job spec %s: %w", path, err)
	}
	s, d := parse(data, path)
	if d.total > 0 {
		if s != nil {
			s.checkKinds(reg, &d.errorList)
		}
		return nil, d.join()
	}
	return s.Build(reg, baseDir)
}

// readFile reads a spec file of at most maxSpecBytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read job spec: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read job spec: %w", err)
	}
	if len(data) > maxSpecBytes {
		return nil, &Error{File: path, Err: fmt.Errorf("the spec is more than %d bytes long", maxSpecBytes)}
	}
	return data, nil
}

// DedupSuffix names the dedup operator a source's dedup option adds: the
// source's name followed by it.
const DedupSuffix = "-dedup"

// insertDedup puts a dedup operator after each source with a dedup option:
// keyed by the record key, at the source's parallelism, and read by every
// node that read the source, with the same partitioning.
func (s *Spec) insertDedup(job *runtime.Job, l *errorList) {
	names := map[string]bool{}
	for _, n := range s.nodes {
		names[n.name] = true
	}
	var inserted []*runtime.OperatorNode
	for _, n := range s.nodes {
		if n.kind != sourceNode || n.dedup == nil {
			continue
		}
		name := n.name + DedupSuffix
		if names[name] {
			l.atPos(n.dedupAt, n.label(), fmt.Errorf("dedup: the job has a node named %s already, the name of the dedup operator this option adds", q(name)))
			continue
		}
		rewire := func(ins []runtime.Input) {
			for i := range ins {
				if ins[i].From == n.name {
					ins[i].From = name
				}
			}
		}
		for _, o := range job.Operators {
			rewire(o.Inputs)
		}
		for _, k := range job.Sinks {
			rewire(k.Inputs)
		}
		inserted = append(inserted, &runtime.OperatorNode{
			Name: name, Parallelism: n.parallelism, Inputs: []runtime.Input{{From: n.name, Partition: runtime.KeyBy}}, Factory: runtime.NewDedup(*n.dedup),
		})
	}
	job.Operators = append(inserted, job.Operators...)
}

// newCaller makes the job's Caller from a copy of its endpoints.
func (s *Spec) newCaller(reg Registry) (runtime.Caller, error) {
	if reg.NewCaller == nil {
		return nil, fmt.Errorf("this runner cannot make external calls: the registry has no caller")
	}
	return reg.NewCaller(append([]Endpoint(nil), s.endpoints...))
}

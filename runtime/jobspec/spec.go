package jobspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Limits of a job spec.
const (
	maxSpecBytes       = 1 << 20              // size of the YAML file
	maxNodes           = 1000                 // sources + operators + sinks
	maxInputs          = 256                  // inputs of one operator or sink
	maxEdges           = 10_000               // inputs of all operators and sinks
	maxRetain          = 1000                 // checkpoint.retain
	maxRestartAttempts = 1_000_000            // restart.attempts
	wasmPageBytes      = 64 << 10             // limits.memory is a whole number of Wasm pages
	maxMemoryBytes     = 4 << 30              // limits.memory: all a 32-bit Wasm memory can address
	maxEndpoints       = 100                  // endpoints of one job
	maxConcurrency     = 4096                 // endpoints[].maxConcurrency
	maxJournalTTL      = 366 * 24 * time.Hour // endpoints[].journalTTL
)

// Endpoint is an external endpoint of the job's endpoints list: what guests
// reach, by name, with the call host function (abi/ABI.md §5.3). A zero
// Timeout or MaxConcurrency means the caller's default; a zero JournalTTL
// runtime.DefaultCallJournalTTL.
type Endpoint struct {
	Name           string
	URL            string
	Timeout        time.Duration // of one call, waiting for a free slot included
	MaxConcurrency int           // calls in flight at once, over all subtasks
	JournalTTL     time.Duration // how long the call journal keeps a response
}

// Spec is a parsed job spec: every field has been type-checked and the graph
// checked (names, inputs, partitionings, cycles), but no plugin has been
// resolved yet. Build turns it into a runtime.Job; Build does not change the
// Spec, so one Spec may be built many times, also concurrently.
type Spec struct {
	file           string
	name           string
	maxParallelism int
	checkpoint     runtime.CheckpointConfig
	restart        runtime.RestartConfig
	endpoints      []Endpoint
	endpointsAt    pos
	acks           *acksSpec // nil: no ACK/NACKs
	nodes          []*node   // sources, then operators, then sinks, each in spec order
}

// Name returns the job's name.
func (s *Spec) Name() string { return s.name }

// nodeKind is which list of the spec a node is in.
type nodeKind int

const (
	sourceNode nodeKind = iota
	operatorNode
	sinkNode
)

// list returns the spec field that holds nodes of kind k.
func (k nodeKind) list() string { return [...]string{"sources", "operators", "sinks"}[k] }

func (k nodeKind) String() string { return [...]string{"source", "operator", "sink"}[k] }

// node is one source, operator or sink as written in the spec.
type node struct {
	kind   nodeKind
	path   string // "operators[1]"
	at     pos    // of the node's mapping
	name   string
	nameAt pos

	parallelism int // as written, or the job's default; 0 when that is invalid

	plugin   string // source or sink kind
	pluginAt pos
	options  json.RawMessage // JSON object for the plugin; "{}" when absent
	optAt    pos

	outOfOrderness time.Duration // sources

	module   string // operators: as written
	moduleAt pos
	extism   bool            // operators: kind extism, the module is an Extism plugin
	function string          // operators of kind extism: the export called per batch; "" for the default
	config   json.RawMessage // nil when absent
	limits   ModuleLimits
	// onFailure is the operator's failure policy (the zero value: stop, no retries).
	onFailure runtime.FailurePolicy
	// journal records the operator's input for replay (runtime/journal.go).
	journal bool
	// dedup is the config of an operator of kind dedup, or of a source's
	// dedup option (nil for the others).
	dedup   *runtime.DedupConfig
	dedupAt pos

	inputs   []*input
	inputsOK bool // the inputs decoded without error (so "nothing reads from X" is trustworthy)
}

// label is the node's path and name for errors of Build: "sources[0] (lines)".
func (n *node) label() string {
	if n.name == "" {
		return n.path
	}
	return n.path + " (" + short(n.name) + ")"
}

// input is one edge into an operator or sink.
type input struct {
	path      string // "operators[1].inputs[0]" or "operators[1].from"
	fromPath  string // path of the from field
	from      string
	fromAt    pos
	port      int
	partition runtime.Partitioning
	explicit  bool // partition was written; otherwise check picks forward or rebalance
	partAt    pos
}

// Parse reads a job spec from data. filename is used in error messages only.
// It checks the YAML syntax, the fields and their types, and the graph; every
// problem it finds is an *Error in the errors.Join it returns. It does not
// resolve source and sink kinds or load modules: Build does.
func Parse(data []byte, filename string) (*Spec, error) {
	s, d := parse(data, filename)
	if err := d.join(); err != nil {
		return nil, err
	}
	return s, nil
}

// parse is Parse that also returns what it could decode of a spec with errors
// (nil after a syntax error), so Load can report unknown kinds in the same pass.
func parse(data []byte, filename string) (*Spec, *decoder) {
	d := &decoder{errorList: errorList{file: filename}, jsonBudget: maxTotalJSONBytes}
	if len(data) > maxSpecBytes {
		d.atf(nil, "", "the spec is %d bytes long (at most %d)", len(data), maxSpecBytes)
		return nil, d
	}
	root, err := parseYAML(data)
	if err != nil {
		d.add(yamlError(filename, err))
		return nil, d
	}
	s := &Spec{file: filename}
	d.spec(root, s)
	d.check(s)
	return s, d
}

// parseYAML parses exactly one YAML document into a node tree.
func parseYAML(data []byte) (root *yaml.Node, err error) {
	// NB: yaml.v3 panics with "internal error" on a few malformed inputs
	// instead of returning an error; a spec is untrusted input, so turn those
	// into errors.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the spec is empty")
		}
		return nil, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, err
	default:
		return nil, fmt.Errorf("yaml: line %d: a job spec is one YAML document, and a second one starts here", next.Line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || isNull(doc.Content[0]) {
		return nil, errors.New("the spec is empty")
	}
	return doc.Content[0], nil
}

// yamlLine matches yaml.v3's syntax errors, which say where as "line N".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns an error of the YAML parser into an *Error with its line.
func yamlError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Err: fmt.Errorf("invalid YAML: %s", m[2])}
	}
	if rest, ok := strings.CutPrefix(msg, "yaml: "); ok {
		return &Error{File: file, Err: fmt.Errorf("invalid YAML: %s", rest)}
	}
	return &Error{File: file, Err: err}
}

// spec decodes the top level.
func (d *decoder) spec(root *yaml.Node, s *Spec) {
	f := d.mapping(root, "", "name", "parallelism", "maxParallelism", "checkpoint", "restart", "endpoints", "acks", "sources", "operators", "sinks")
	if f == nil {
		return
	}
	if v, ok := f["name"]; ok {
		s.name, _ = d.name(v.val, "name")
	} else {
		d.atf(root, "", `missing field "name" (the job's name)`)
	}

	s.maxParallelism = runtime.DefaultMaxParallelism
	if v, ok := f["maxParallelism"]; ok {
		p, _ := d.integer(v.val, "maxParallelism", 1, runtime.MaxKeyGroups)
		s.maxParallelism = int(p) // 0 when invalid: skips the checks against it
	}
	defaultPar := 1
	if v, ok := f["parallelism"]; ok {
		p, ok := d.integer(v.val, "parallelism", 1, runtime.MaxKeyGroups)
		defaultPar = int(p)
		if ok && s.maxParallelism > 0 && defaultPar > s.maxParallelism {
			d.atf(resolve(v.val), "parallelism", "%d is more than maxParallelism (%d)", defaultPar, s.maxParallelism)
			defaultPar = 0
		}
	}

	if v, ok := f["checkpoint"]; ok {
		c := d.mapping(v.val, "checkpoint", "interval", "timeout", "retain")
		if x, ok := c["interval"]; ok {
			s.checkpoint.Interval, _ = d.duration(x.val, "checkpoint.interval", false)
		}
		if x, ok := c["timeout"]; ok {
			s.checkpoint.Timeout, _ = d.duration(x.val, "checkpoint.timeout", false)
		}
		if x, ok := c["retain"]; ok {
			r, _ := d.integer(x.val, "checkpoint.retain", 1, maxRetain)
			s.checkpoint.Retain = int(r)
		}
	}
	if v, ok := f["restart"]; ok {
		r := d.mapping(v.val, "restart", "attempts", "delay")
		if x, ok := r["attempts"]; ok {
			a, _ := d.integer(x.val, "restart.attempts", 0, maxRestartAttempts)
			s.restart.Attempts = int(a)
			if a == 0 {
				s.restart.Attempts = runtime.NoRestarts
			}
		}
		if x, ok := r["delay"]; ok {
			s.restart.Delay, _ = d.duration(x.val, "restart.delay", false)
		}
	}

	if v, ok := f["endpoints"]; ok {
		s.endpointsAt = posOf(resolve(v.val))
		d.endpoints(v.val, s)
	}
	if v, ok := f["acks"]; ok {
		s.acks = d.acks(v.val)
	}

	lists := map[nodeKind][]*yaml.Node{}
	total := 0
	for _, k := range []nodeKind{sourceNode, operatorNode, sinkNode} {
		if v, ok := f[k.list()]; ok {
			lists[k] = d.list(v.val, k.list(), k.list())
			total += len(lists[k])
		}
	}
	if total > maxNodes {
		d.atf(root, "", "the job has %d sources, operators and sinks (at most %d)", total, maxNodes)
		return
	}
	for _, k := range []nodeKind{sourceNode, operatorNode, sinkNode} {
		for i, item := range lists[k] {
			s.nodes = append(s.nodes, d.node(item, k, fmt.Sprintf("%s[%d]", k.list(), i), defaultPar, s.maxParallelism))
		}
		if k != operatorNode && len(lists[k]) == 0 {
			at := root
			if v, ok := f[k.list()]; ok {
				at = resolve(v.val)
			}
			d.atf(at, k.list(), "a job needs at least one %s", k)
		}
	}
}

// acksSpec is the acks field: where each input message's ACK or NACK goes.
type acksSpec struct {
	plugin   string
	pluginAt pos
	options  json.RawMessage
	optAt    pos
}

// acks decodes the acks field: kind and options, as a sink's.
func (d *decoder) acks(v *yaml.Node) *acksSpec {
	f := d.mapping(v, "acks", "kind", "options")
	if f == nil {
		return nil
	}
	a := &acksSpec{options: json.RawMessage("{}"), optAt: posOf(resolve(v))}
	if x, ok := f["kind"]; ok {
		a.plugin, _ = d.str(x.val, "acks.kind")
		a.pluginAt = posOf(resolve(x.val))
	} else {
		d.atf(resolve(v), "acks", `missing field "kind" (which ack target, e.g. nats)`)
	}
	if x, ok := f["options"]; ok {
		a.optAt = posOf(resolve(x.val))
		switch {
		case isNull(x.val):
		case resolve(x.val).Kind != yaml.MappingNode:
			d.atf(resolve(x.val), "acks.options", "expected a mapping of plugin options, got %s", describe(x.val))
		default:
			a.options, _ = d.toJSON(x.val, "acks.options")
		}
	}
	return a
}

// endpoints decodes the endpoints list.
func (d *decoder) endpoints(v *yaml.Node, s *Spec) {
	items := d.list(v, "endpoints", "endpoints")
	if len(items) > maxEndpoints {
		d.atf(resolve(v), "endpoints", "the job has %d endpoints (at most %d)", len(items), maxEndpoints)
		return
	}
	seen := map[string]bool{}
	for i, item := range items {
		path := fmt.Sprintf("endpoints[%d]", i)
		f := d.mapping(item, path, "name", "url", "timeout", "maxConcurrency", "journalTTL")
		if f == nil {
			continue
		}
		var e Endpoint
		if x, ok := f["name"]; ok {
			if name, ok := d.name(x.val, join(path, "name")); ok {
				if seen[name] {
					d.atf(resolve(x.val), join(path, "name"), "endpoint %s is defined twice", q(name))
				}
				seen[name], e.Name = true, name
			}
		} else {
			d.atf(resolve(item), path, `missing field "name" (the name guests call the endpoint by)`)
		}
		if x, ok := f["url"]; ok {
			e.URL, _ = d.str(x.val, join(path, "url"))
			if u, err := url.Parse(e.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.atf(resolve(x.val), join(path, "url"), "%s is not an absolute http or https URL", q(e.URL))
			}
		} else {
			d.atf(resolve(item), path, `missing field "url" (where the calls are POSTed)`)
		}
		if x, ok := f["timeout"]; ok {
			e.Timeout, _ = d.duration(x.val, join(path, "timeout"), false)
		}
		if x, ok := f["maxConcurrency"]; ok {
			n, _ := d.integer(x.val, join(path, "maxConcurrency"), 1, maxConcurrency)
			e.MaxConcurrency = int(n)
		}
		if x, ok := f["journalTTL"]; ok {
			if ttl, ok := d.duration(x.val, join(path, "journalTTL"), false); ok && ttl > maxJournalTTL {
				d.atf(resolve(x.val), join(path, "journalTTL"), "%v is longer than %v", ttl, maxJournalTTL)
			} else {
				e.JournalTTL = ttl
			}
		}
		s.endpoints = append(s.endpoints, e)
	}
}

// node decodes one source, operator or sink.
func (d *decoder) node(item *yaml.Node, kind nodeKind, path string, defaultPar, maxPar int) *node {
	n := &node{kind: kind, path: path, at: posOf(resolve(item)), parallelism: defaultPar}
	var f map[string]field
	switch kind {
	case sourceNode:
		f = d.mapping(item, path, "name", "kind", "parallelism", "watermark", "options", "dedup")
	case operatorNode:
		f = d.mapping(item, path, "name", "module", "kind", "function", "parallelism", "from", "inputs", "config", "limits", "onFailure", "dedup", "journal")
	case sinkNode:
		f = d.mapping(item, path, "name", "kind", "parallelism", "from", "inputs", "options")
	}
	if f == nil {
		return n
	}
	required := func(key, what string) (*yaml.Node, bool) {
		if v, ok := f[key]; ok {
			return v.val, true
		}
		d.atf(resolve(item), path, "missing field %q (%s)", key, what) // key is ours, not the user's
		return nil, false
	}

	if v, ok := required("name", "the "+kind.String()+"'s name"); ok {
		n.name, _ = d.name(v, join(path, "name"))
		n.nameAt = posOf(resolve(v))
	}
	if v, ok := f["parallelism"]; ok {
		p, ok := d.integer(v.val, join(path, "parallelism"), 1, runtime.MaxKeyGroups)
		n.parallelism = int(p)
		if ok && maxPar > 0 && n.parallelism > maxPar {
			d.atf(resolve(v.val), join(path, "parallelism"), "%d is more than maxParallelism (%d)", n.parallelism, maxPar)
			n.parallelism = 0
		}
	}

	switch kind {
	case sourceNode, sinkNode:
		if v, ok := required("kind", "which "+kind.String()+" plugin, e.g. file"); ok {
			n.plugin, _ = d.str(v, join(path, "kind"))
			n.pluginAt = posOf(resolve(v))
		}
		n.options = json.RawMessage("{}")
		n.optAt = n.at
		if v, ok := f["options"]; ok {
			n.optAt = posOf(resolve(v.val))
			switch {
			case isNull(v.val):
			case resolve(v.val).Kind != yaml.MappingNode:
				d.atf(resolve(v.val), join(path, "options"), "expected a mapping of plugin options, got %s", describe(v.val))
			default:
				n.options, _ = d.toJSON(v.val, join(path, "options"))
			}
		}
	case operatorNode:
		if v, ok := f["kind"]; ok {
			if k, _ := d.str(v.val, join(path, "kind")); k == "dedup" {
				d.dedupOperator(n, f, resolve(item), path)
				break
			}
		}
		if v, ok := required("module", "the path of the operator's .wasm file"); ok {
			if m, ok := d.str(v, join(path, "module")); ok && m == "" {
				d.atf(resolve(v), join(path, "module"), "the module path is empty")
			} else {
				n.module = m
			}
			n.moduleAt = posOf(resolve(v))
		}
		kindOK := true
		if v, ok := f["kind"]; ok {
			k, ok := d.str(v.val, join(path, "kind"))
			switch {
			case !ok:
				kindOK = false
			case k == "extism":
				n.extism = true
			case k != "weir":
				d.atf(resolve(v.val), join(path, "kind"), "unknown operator kind %s (allowed: weir, extism, dedup)", q(k))
				kindOK = false
			}
		}
		if v, ok := f["function"]; ok {
			fp := join(path, "function")
			if fn, ok := d.str(v.val, fp); ok {
				switch {
				case !kindOK: // the kind's error says it
				case !n.extism:
					d.atf(resolve(v.val), fp, "function names the export of an Extism plugin: it needs kind: extism")
				case fn == "":
					d.atf(resolve(v.val), fp, "the function name is empty")
				default:
					n.function = fn
				}
			}
		}
		if v, ok := f["config"]; ok && !isNull(v.val) {
			n.config, _ = d.toJSON(v.val, join(path, "config"))
		}
		if v, ok := f["limits"]; ok {
			lp := join(path, "limits")
			l := d.mapping(v.val, lp, "memory", "callTimeout")
			if x, ok := l["memory"]; ok {
				if m, ok := d.size(x.val, join(lp, "memory")); ok {
					switch {
					case m < wasmPageBytes || m > maxMemoryBytes:
						d.atf(resolve(x.val), join(lp, "memory"), "%d bytes is out of range (allowed: 64KiB..4GiB)", m)
					case m%wasmPageBytes != 0:
						d.atf(resolve(x.val), join(lp, "memory"), "%d bytes is not a whole number of 64KiB Wasm pages", m)
					default:
						n.limits.MemoryBytes = m
					}
				}
			}
			if x, ok := l["callTimeout"]; ok {
				n.limits.CallTimeout, _ = d.duration(x.val, join(lp, "callTimeout"), false)
			}
		}
		if v, ok := f["onFailure"]; ok {
			n.onFailure = d.onFailure(v.val, join(path, "onFailure"))
		}
		if v, ok := f["journal"]; ok {
			n.journal, _ = d.boolean(v.val, join(path, "journal"))
		}
		if v, ok := f["dedup"]; ok {
			d.atf(v.key, join(path, "dedup"), "dedup configures an operator of kind dedup")
		}
	}

	if kind == sourceNode {
		if v, ok := f["dedup"]; ok {
			c := d.dedupConfig(v.val, join(path, "dedup"))
			n.dedup, n.dedupAt = &c, posOf(v.key)
		}
		if v, ok := f["watermark"]; ok {
			w := d.mapping(v.val, join(path, "watermark"), "outOfOrderness")
			if x, ok := w["outOfOrderness"]; ok {
				n.outOfOrderness, _ = d.duration(x.val, join(path, "watermark.outOfOrderness"), true)
			}
		}
		n.inputsOK = true
		return n
	}
	n.inputsOK = d.inputs(n, f, resolve(item))
	return n
}

// inputs decodes the from or inputs field of an operator or sink, and reports
// whether that went without error.
func (d *decoder) inputs(n *node, f map[string]field, item *yaml.Node) bool {
	before := d.total
	from, hasFrom := f["from"]
	ins, hasInputs := f["inputs"]
	switch {
	case hasFrom && hasInputs:
		d.atf(ins.key, n.path, "from and inputs are mutually exclusive: use from for inputs with the default partitioning, inputs to set partition or port")
		return false
	case hasFrom:
		v := resolve(from.val)
		fp := join(n.path, "from")
		if v.Kind == yaml.SequenceNode {
			if len(v.Content) > maxInputs {
				d.atf(v, fp, "%d inputs (at most %d)", len(v.Content), maxInputs)
				return false
			}
			if !d.countEdges(v, fp, len(v.Content)) {
				return false
			}
			for i, x := range v.Content {
				p := fmt.Sprintf("%s[%d]", fp, i)
				if s, ok := d.str(x, p); ok {
					n.inputs = append(n.inputs, &input{path: p, fromPath: p, from: s, fromAt: posOf(resolve(x))})
				}
			}
		} else if s, ok := d.str(v, fp); ok {
			n.inputs = append(n.inputs, &input{path: fp, fromPath: fp, from: s, fromAt: posOf(v)})
		}
	case hasInputs:
		list := d.list(ins.val, join(n.path, "inputs"), "inputs ({from, port, partition})")
		if len(list) > maxInputs {
			d.atf(resolve(ins.val), join(n.path, "inputs"), "%d inputs (at most %d)", len(list), maxInputs)
			return false
		}
		if !d.countEdges(resolve(ins.val), join(n.path, "inputs"), len(list)) {
			return false
		}
		for i, x := range list {
			p := fmt.Sprintf("%s.inputs[%d]", n.path, i)
			if in := d.input(x, p); in != nil {
				n.inputs = append(n.inputs, in)
			}
		}
	default:
		d.atf(item, n.path, `missing field "from" or "inputs" (where the %s's records come from)`, n.kind)
		return false
	}
	if d.total > before {
		return false
	}
	switch {
	case len(n.inputs) == 0:
		d.atf(item, n.path, "a %s needs at least one input", n.kind)
		return false
	}
	return true
}

// countEdges adds n inputs to the spec's count and reports whether it is
// still within maxEdges (saying so once when it is not).
func (d *decoder) countEdges(at *yaml.Node, path string, n int) bool {
	d.edges += n
	if d.edges <= maxEdges {
		return true
	}
	if d.edges-n <= maxEdges {
		d.atf(at, path, "the job has more than %d inputs in all", maxEdges)
	}
	return false
}

// partitionings are the values of an input's partition field.
var partitionings = map[string]runtime.Partitioning{
	"forward":   runtime.Forward,
	"keyBy":     runtime.KeyBy,
	"rebalance": runtime.Rebalance,
}

// input decodes one item of an inputs list; nil if it has errors.
func (d *decoder) input(item *yaml.Node, path string) *input {
	f := d.mapping(item, path, "from", "port", "partition")
	if f == nil {
		return nil
	}
	before := d.total
	in := &input{path: path, fromPath: join(path, "from")}
	if v, ok := f["from"]; ok {
		in.from, _ = d.str(v.val, in.fromPath)
		in.fromAt = posOf(resolve(v.val))
	} else {
		d.atf(resolve(item), path, `missing field "from" (the name of the upstream node)`)
	}
	if v, ok := f["port"]; ok {
		p, _ := d.integer(v.val, join(path, "port"), 0, abi.MaxPort)
		in.port = int(p)
	}
	if v, ok := f["partition"]; ok {
		if s, ok := d.str(v.val, join(path, "partition")); ok {
			in.partAt = posOf(resolve(v.val))
			if p, ok := partitionings[s]; ok {
				in.partition, in.explicit = p, true
			} else {
				d.atf(resolve(v.val), join(path, "partition"), "unknown partitioning %s (allowed: forward, keyBy, rebalance)", q(s))
			}
		}
	}
	if d.total > before {
		return nil
	}
	return in
}

// failureActions are the values of onFailure.policy.
var failureActions = map[string]runtime.FailureAction{"stop": runtime.FailStop, "dlq": runtime.FailDLQ}

// onFailure decodes an operator's failure policy.
func (d *decoder) onFailure(v *yaml.Node, path string) runtime.FailurePolicy {
	var p runtime.FailurePolicy
	f := d.mapping(v, path, "policy", "retries", "backoff")
	if x, ok := f["policy"]; ok {
		if s, ok := d.str(x.val, join(path, "policy")); ok {
			if a, ok := failureActions[s]; ok {
				p.Action = a
			} else {
				d.atf(resolve(x.val), join(path, "policy"), "unknown failure policy %s (allowed: stop, dlq)", q(s))
			}
		}
	}
	if x, ok := f["retries"]; ok {
		r, _ := d.integer(x.val, join(path, "retries"), 0, runtime.MaxRetries)
		p.Retries = int(r)
	}
	if x, ok := f["backoff"]; ok {
		if b, ok := d.duration(x.val, join(path, "backoff"), false); ok {
			if b > runtime.MaxBackoff {
				d.atf(resolve(x.val), join(path, "backoff"), "%v is more than %v", b, runtime.MaxBackoff)
			} else {
				p.Backoff = b
			}
		}
	}
	return p
}

// dedupOperator decodes an operator of kind dedup: a built-in operator with a
// dedup mapping instead of a module.
func (d *decoder) dedupOperator(n *node, f map[string]field, item *yaml.Node, path string) {
	for _, k := range []string{"module", "function", "config", "limits"} {
		if v, ok := f[k]; ok {
			d.atf(v.key, join(path, k), "an operator of kind dedup is built in: it has no %s", k)
		}
	}
	if v, ok := f["onFailure"]; ok {
		n.onFailure = d.onFailure(v.val, join(path, "onFailure"))
	}
	n.dedup = &runtime.DedupConfig{} // a dedup operator, even when its config has errors
	n.module = "dedup"               // for labels; no module is loaded
	v, ok := f["dedup"]
	if !ok {
		d.atf(item, path, `missing field "dedup" (the dedup operator's idFrom and ttl)`)
		return
	}
	*n.dedup = d.dedupConfig(v.val, join(path, "dedup"))
}

// dedupConfig decodes the dedup mapping of a dedup operator or a source.
func (d *decoder) dedupConfig(v *yaml.Node, dp string) runtime.DedupConfig {
	m := d.mapping(v, dp, "idFrom", "ttl", "time")
	c := runtime.DedupConfig{IDFrom: "key"}
	if x, ok := m["idFrom"]; ok {
		if s, ok := d.str(x.val, join(dp, "idFrom")); ok {
			c.IDFrom = s
			if (runtime.DedupConfig{IDFrom: s, TTL: 1}).Check() != nil {
				d.atf(resolve(x.val), join(dp, "idFrom"), "%s is not key, value or json:FIELD", q(s))
			}
		}
	}
	if x, ok := m["ttl"]; ok {
		c.TTL, _ = d.duration(x.val, join(dp, "ttl"), false)
	} else {
		d.atf(resolve(v), dp, `missing field "ttl" (how long an id is remembered)`)
	}
	if x, ok := m["time"]; ok {
		if s, ok := d.str(x.val, join(dp, "time")); ok {
			switch s {
			case "processing":
			case "event":
				c.EventTime = true
			default:
				d.atf(resolve(x.val), join(dp, "time"), "unknown time %s (allowed: processing, event)", q(s))
			}
		}
	}
	return c
}

package jobspec

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/weirstream/weir/runtime"
)

// maxKnownNames bounds the list of names an "unknown node" error offers.
const maxKnownNames = 20

// check checks the graph of a decoded spec: unique names, inputs that name an
// upstream source or operator, ports, partitionings, cycles, and that every
// source and operator has a reader. It fills in the default partitionings. It
// is the same check runtime.Job.Validate makes, done here to point at the line
// of the spec that is wrong.
func (d *decoder) check(s *Spec) {
	byName := map[string]*node{}
	var upstream []string // names of sources and operators, for "unknown node" errors
	for _, n := range s.nodes {
		if n.name == "" {
			continue // its missing or bad name is reported already
		}
		if first, dup := byName[n.name]; dup {
			d.atPos(n.nameAt, n.path+".name", fmt.Errorf("%s is the name of %s already (line %d); names must be unique among sources, operators and sinks",
				q(n.name), first.path, first.nameAt.line))
			continue
		}
		byName[n.name] = n
		if n.kind != sinkNode {
			upstream = append(upstream, n.name)
		}
	}
	sort.Strings(upstream)
	for _, n := range s.nodes {
		if n.kind == sourceNode && n.dedup != nil && byName[n.name+DedupSuffix] != nil {
			d.atPos(n.dedupAt, join(n.path, "dedup"), fmt.Errorf("the job has a node named %s already, the name of the dedup operator this option adds", q(n.name+DedupSuffix)))
		}
	}

	allInputsOK, hasSink := true, false
	readers := map[string]int{}
	for _, n := range s.nodes {
		if !n.inputsOK {
			allInputsOK = false
		}
		if n.kind == sinkNode {
			hasSink = true
		}
		if n.kind == sourceNode || !n.inputsOK {
			continue
		}
		if !d.checkInputs(n, byName, upstream) {
			allInputsOK = false
		}
		for _, in := range n.inputs {
			readers[in.from]++
		}
	}
	d.checkCycles(s, byName)
	if !allInputsOK || !hasSink {
		// A reader may be among the inputs that are wrong (a typo in a from
		// field); and with no sink at all, "no sink" says it all.
		return
	}
	for _, n := range s.nodes {
		if n.kind != sinkNode && n.name != "" && byName[n.name] == n && readers[n.name] == 0 {
			d.atPos(n.nameAt, n.label(), errors.New("nothing reads from it: the output of every source and operator must lead to a sink"))
		}
	}
}

// checkInputs checks the inputs of operator or sink n and picks the default
// partitioning of those that do not name one. It returns false if an input
// does not name a source or another operator.
func (d *decoder) checkInputs(n *node, byName map[string]*node, upstream []string) bool {
	resolved := true
	type edge struct {
		from string
		port int
	}
	seen := map[edge]string{}
	keyed := 0
	for _, in := range n.inputs {
		up, ok := byName[in.from]
		switch {
		case !ok:
			d.atPos(in.fromAt, in.fromPath, fmt.Errorf("unknown node %s (known: %s)", q(in.from), knownUpstream(upstream, n)))
			resolved = false
			continue
		case up.kind == sinkNode:
			d.atPos(in.fromAt, in.fromPath, fmt.Errorf("%s is a sink (%s); sinks have no output to read", q(in.from), up.path))
			resolved = false
			continue
		case up == n:
			d.atPos(in.fromAt, in.fromPath, fmt.Errorf("%s cannot read its own output", q(in.from)))
			resolved = false
			continue
		case up.kind == sourceNode && in.port != 0:
			d.atPos(in.fromAt, in.path, fmt.Errorf("port %d of source %s: sources have port 0 only", in.port, q(in.from)))
		}
		e := edge{in.from, in.port}
		if prev, dup := seen[e]; dup {
			d.atPos(in.fromAt, in.fromPath, fmt.Errorf("port %d of %s is read by %s already; read each output once", in.port, q(in.from), prev))
		}
		seen[e] = in.path

		switch {
		case n.dedup != nil && !in.explicit:
			in.partition = runtime.KeyBy // a dedup operator is keyed
		case n.dedup != nil && in.partition != runtime.KeyBy:
			d.atPos(in.partAt, join(in.path, "partition"), fmt.Errorf("a dedup operator keeps its ids per key: its inputs are keyBy (got %s)", in.partition))
		case !in.explicit:
			// The default: forward when it can be, rebalance otherwise.
			in.partition = runtime.Rebalance
			if up.parallelism == n.parallelism {
				in.partition = runtime.Forward
			}
		}
		if in.partition == runtime.Forward && up.parallelism > 0 && n.parallelism > 0 && up.parallelism != n.parallelism {
			d.atPos(in.partAt, join(in.path, "partition"), fmt.Errorf(
				"forward needs equal parallelism on both sides (%s has %d, %s has %d); use rebalance or keyBy",
				q(in.from), up.parallelism, q(n.name), n.parallelism))
		}
		if in.partition == runtime.KeyBy {
			keyed++
		}
	}
	if keyed != 0 && keyed != len(n.inputs) {
		var parts []string
		for _, in := range n.inputs {
			parts = append(parts, fmt.Sprintf("%s: %s", short(in.from), in.partition))
		}
		d.atPos(n.at, n.path, fmt.Errorf("some inputs are keyBy and some are not (%s); a keyed %s needs every input keyBy",
			strings.Join(parts, ", "), n.kind))
	}
	return resolved
}

// checkCycles reports each cycle among the operators once, at the input that
// closes it.
func (d *decoder) checkCycles(s *Spec, byName map[string]*node) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[*node]int{}
	var stack []*node
	var visit func(n *node)
	visit = func(n *node) {
		state[n] = visiting
		stack = append(stack, n)
		for _, in := range n.inputs {
			up := byName[in.from]
			if up == nil || up.kind != operatorNode || up == n {
				continue // unknown, a source or sink, or a self-loop: reported by checkInputs
			}
			switch state[up] {
			case unvisited:
				visit(up)
			case visiting:
				// stack[i] reads from stack[i+1], n (the top) reads from up:
				// records flow up -> n -> ... -> up.
				names := []string{short(up.name)}
				for i := len(stack) - 1; i >= 0; i-- {
					names = append(names, short(stack[i].name))
					if stack[i] == up {
						break
					}
				}
				d.atPos(in.fromAt, in.fromPath, fmt.Errorf("records flow in a cycle: %s", strings.Join(names, " -> ")))
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
	}
	for _, n := range s.nodes {
		if n.kind == operatorNode && state[n] == unvisited && byName[n.name] == n {
			visit(n)
		}
	}
}

// knownUpstream lists the names an input of self may name: the other sources
// and operators, at most maxKnownNames of them. upstream is every source and
// operator name, sorted.
func knownUpstream(upstream []string, self *node) string {
	var names []string
	for _, name := range upstream {
		if name == self.name {
			continue
		}
		if len(names) == maxKnownNames {
			return strings.Join(names, ", ") + ", ..."
		}
		names = append(names, short(name))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

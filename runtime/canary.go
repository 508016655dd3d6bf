package runtime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/weirstream/weir/abi"
)

// Canary modules.
//
// A canary runs a second module version for real on some key groups of a
// keyed operator, the live module on the others: each subtask holds an
// instance of both and splits every batch (records and fired timers) by the
// key group of each entry's key. Keyed state is the operator's one state,
// scoped by key as always, so a key's state is carried across a start, a
// rollback and a promotion of the canary: the module that runs a key group
// reads what the other wrote before it.
//
// A canary starts and ends at a checkpoint barrier, like a swap (swap.go), and
// is recorded in the module history: the ModuleChange of its barrier names
// the live module and the canary's (CanaryModule, CanaryKeyGroups). So a
// restore pairs each key group's state with the module that produced it:
//
//   - a crash before the canary's checkpoint completes restores the previous
//     checkpoint, whose history runs the live module everywhere, and the
//     records after it are replayed through the live module alone;
//   - a crash after it restores the canary with the checkpoint.
//
// A rollback is a ModuleChange without a canary: from its barrier on the live
// module runs every key group again. A promotion is a swap to the canary's
// module, which ends the canary at the swap's barrier (any swap of the
// operator does). Nothing in a batch is dropped or run twice by the split:
// every entry runs through exactly one of the two instances, the live part
// first, in the batch's order within each part.

// CanaryRequest asks a running job to run another module on some key groups
// of a keyed operator.
type CanaryRequest struct {
	Operator string
	Module   string          // the canary module's id, recorded in the module history
	Factory  OperatorFactory // makes the canary's instances
	// KeyGroups are the key groups the canary runs, in [0, maxParallelism):
	// see CanaryKeyGroups.
	KeyGroups []int
}

// CanaryKeyGroups returns the key groups a canary of percent % of
// maxParallelism key groups runs on: round(percent/100 * maxParallelism) of
// them (at least one), spread evenly over the range, so that every subtask's
// contiguous share of key groups (KeyGroupsFor) holds about its part.
func CanaryKeyGroups(percent float64, maxParallelism int) ([]int, error) {
	if !(percent > 0 && percent <= 100) {
		return nil, fmt.Errorf("canary: percent %v out of range (0, 100]", percent)
	}
	n := max(1, int(math.Round(percent/100*float64(maxParallelism))))
	out := make([]int, 0, n)
	for i := range n {
		// NB: the i-th of n evenly spaced points of [0, maxParallelism).
		out = append(out, i*maxParallelism/n)
	}
	return out, nil
}

// Canary is a canary as the module history records it.
type Canary struct {
	Operator       string
	LiveModule     string
	Module         string
	KeyGroups      []int
	FromCheckpoint int64
}

// ErrNoCanary is returned for an operator that runs no canary.
var ErrNoCanary = errors.New("the operator runs no canary")

// canaryOf returns operator's canary in the module history h (nil: none).
func canaryOf(h []ModuleChange, operator string) *Canary {
	var last *ModuleChange
	for i := range h {
		if h[i].Operator == operator {
			last = &h[i]
		}
	}
	if last == nil || last.CanaryModule == "" {
		return nil
	}
	return &Canary{Operator: operator, LiveModule: last.Module, Module: last.CanaryModule, KeyGroups: rangesToGroups(last.CanaryKeyGroups), FromCheckpoint: last.FromCheckpoint}
}

// Canaries returns the canaries as of the newest complete checkpoint.
func (x *Execution) Canaries() []Canary { return CanariesOf(x.ModuleHistory()) }

// CanariesOf returns the canaries module history h runs, in the order its
// operators first appear in it.
func CanariesOf(h []ModuleChange) []Canary {
	var out []Canary
	seen := map[string]bool{}
	for _, c := range h {
		if seen[c.Operator] {
			continue
		}
		seen[c.Operator] = true
		if cn := canaryOf(h, c.Operator); cn != nil {
			out = append(out, *cn)
		}
	}
	return out
}

// StartCanary runs req's module on req.KeyGroups of req.Operator from the
// next checkpoint barrier on and waits until that checkpoint is complete; it
// returns the checkpoint. The operator must be keyed and run neither a canary
// nor a shadow.
func (x *Execution) StartCanary(ctx context.Context, req CanaryRequest) (int64, error) {
	node := x.job.operator(req.Operator)
	switch {
	case node == nil:
		return 0, fmt.Errorf("job %q has no operator %q", x.job.Name, req.Operator)
	case len(node.Inputs) == 0 || node.Inputs[0].Partition != KeyBy:
		return 0, fmt.Errorf("canary of operator %q refused: a canary splits by key group, and the operator's input is not partitioned by keyBy; use a shadow or a swap", req.Operator)
	case req.Factory == nil:
		return 0, errors.New("canary: no factory for the module")
	case len(req.KeyGroups) == 0:
		return 0, fmt.Errorf("canary of operator %q refused: no key groups", req.Operator)
	}
	groups := slices.Clone(req.KeyGroups)
	slices.Sort(groups)
	groups = slices.Compact(groups)
	if groups[0] < 0 || groups[len(groups)-1] >= x.job.MaxParallelism {
		return 0, fmt.Errorf("canary of operator %q refused: key groups must be in [0, %d) (the job's maxParallelism)", req.Operator, x.job.MaxParallelism)
	}
	if x.shadows.slots[req.Operator].Load() != nil {
		return 0, fmt.Errorf("canary of operator %q refused: it runs a shadow; stop or promote it first", req.Operator)
	}
	return x.control(ctx, &controlReq{swap: &SwapRequest{Operator: req.Operator, Module: req.Module, Factory: req.Factory, canary: groups}})
}

// RollbackCanary ends the canary of operator at the next checkpoint barrier:
// from it on, the live module runs every key group again. It returns the
// checkpoint once complete.
func (x *Execution) RollbackCanary(ctx context.Context, operator string) (int64, error) {
	if x.job.operator(operator) == nil {
		return 0, fmt.Errorf("job %q has no operator %q", x.job.Name, operator)
	}
	return x.control(ctx, &controlReq{swap: &SwapRequest{Operator: operator, rollback: true}})
}

func (j *Job) operator(name string) *OperatorNode {
	for _, n := range j.Operators {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// groupsToRanges and rangesToGroups convert between a sorted set of key
// groups and the ranges the manifest stores them as.
func groupsToRanges(groups []int) []KeyGroupRange {
	var out []KeyGroupRange
	for _, g := range groups {
		if n := len(out); n > 0 && out[n-1].Last+1 == g {
			out[n-1].Last = g
			continue
		}
		out = append(out, KeyGroupRange{First: g, Last: g})
	}
	return out
}

func rangesToGroups(rs []KeyGroupRange) []int {
	var out []int
	for _, r := range rs {
		for g := r.First; g <= r.Last; g++ {
			out = append(out, g)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// The subtask's side

// canarySub is the canary in one operator subtask.
type canarySub struct {
	op     Operator
	module string
	groups []bool // by key group: the canary's

	parts [2]abi.Writer // the live part, the canary's part
	index [2][]int      // each part's entries' indexes in the batch
}

func newCanarySub(op Operator, module string, groups []int, maxParallelism int) *canarySub {
	c := &canarySub{op: op, module: module, groups: make([]bool, maxParallelism)}
	for _, g := range groups {
		c.groups[g] = true
	}
	return c
}

// split divides b into the live part and the canary's part.
func (c *canarySub) split(b []byte, maxParallelism int) {
	for i := range c.parts {
		c.parts[i].Reset()
		c.index[i] = c.index[i][:0]
	}
	r := abi.NewReader(b)
	for i := 0; r.Next(); i++ {
		part := 0
		if c.groups[abi.KeyGroup(r.Entry().Key, maxParallelism)] {
			part = 1
		}
		c.parts[part].AppendRaw(r.Raw())
		c.index[part] = append(c.index[part], i)
	}
}

// callCanary runs b through the live instance and the canary's, each on the
// entries of its key groups. An OperatorError's entry is b's.
func (p *operatorProc) callCanary(ctx context.Context, b []byte) (error, bool) {
	c := p.canary
	c.split(b, p.t.at.job.MaxParallelism)
	now := p.now()
	for part, op := range [2]Operator{p.op, c.op} {
		if c.parts[part].Count() == 0 {
			continue
		}
		err, guest := p.callOne(ctx, op, c.parts[part].Bytes(), now)
		if err != nil {
			var oe *OperatorError
			if !errors.As(err, &oe) {
				if part == 1 {
					err = fmt.Errorf("canary module %s: %w", c.module, err)
				}
				return err, guest
			}
			if oe.Entry >= 0 && oe.Entry < len(c.index[part]) {
				oe.Entry = c.index[part][oe.Entry]
			}
			if part == 1 {
				oe.Err = fmt.Errorf("canary module %s: %w", c.module, oe.Err)
			}
			return err, guest
		}
	}
	return nil, false
}

// closeCanary drops the subtask's canary instance.
func (p *operatorProc) closeCanary() {
	if p.canary == nil {
		return
	}
	if err := p.canary.op.Close(); err != nil {
		p.t.log.Warn("close the canary's operator instance", "err", err)
	}
	p.canary = nil
}

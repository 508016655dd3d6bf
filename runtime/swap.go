package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Hot swap and forced checkpoints.
//
// A swap replaces the module of one operator on all its subtasks at one
// checkpoint barrier N: every subtask processes the records before barrier N
// with the old module, snapshots its state (which the host owns, so it does not
// depend on the module), forwards the barrier and only then switches to the new
// instance. Checkpoint N's manifest records the new module in its history, so:
//
//   - a crash before N completes restores N-1, whose history names the old
//     module, and the records after N-1 are replayed through the old module;
//   - a crash after N completes restores N with the new module.
//
// The new instances are made (and, with Migrate, asked to migrate) before the
// barrier is sent: a module that fails to instantiate refuses the swap while the
// job goes on running the old one.

// ModuleResolver turns a module id (OperatorNode.Module) into the factory of
// operator's instances.
type ModuleResolver interface {
	ResolveModule(ctx context.Context, operator, module string) (OperatorFactory, error)
}

// Migrator is implemented by operators that take part in a swap's migrate step:
// Migrate runs on each new instance before it takes over from an instance of
// module from; an error refuses the swap.
type Migrator interface {
	Migrate(ctx context.Context, from string) error
}

// SwapRequest asks a running job to replace the module of one operator.
type SwapRequest struct {
	Operator string
	Module   string          // the new module's id, recorded in the module history
	Factory  OperatorFactory // makes the new module's instances
	// Migrate runs the new instances' migrate step (Migrator) before the swap;
	// an instance without one refuses the swap.
	Migrate bool
	// EndShadow stops the operator's shadow at the swap's barrier: a
	// promotion of the shadow's module (shadow.go).
	EndShadow bool

	canary   []int // a canary start on these key groups (canary.go)
	rollback bool  // a canary's end
}

// ErrNotRunning is returned by control requests that reach a job which is
// stopping or has ended.
var ErrNotRunning = errors.New("the job is not running")

// SwapModule swaps the module of req.Operator at the next checkpoint barrier and
// waits until a checkpoint taken after the swap is complete. It returns the
// checkpoint from whose barrier on the new module runs. An error means the
// swap did not happen, or did not survive: the job runs the old module.
func (x *Execution) SwapModule(ctx context.Context, req SwapRequest) (int64, error) {
	var node *OperatorNode
	for _, n := range x.job.Operators {
		if n.Name == req.Operator {
			node = n
		}
	}
	if node == nil {
		return 0, fmt.Errorf("job %q has no operator %q", x.job.Name, req.Operator)
	}
	if req.Factory == nil {
		return 0, errors.New("swap: no factory for the new module")
	}
	r := &controlReq{swap: &req}
	if req.EndShadow {
		r.shadow = &shadowChange{operator: req.Operator}
	}
	return x.control(ctx, r)
}

// Checkpoint triggers a checkpoint now (or joins the one in progress) and waits
// until one that started after the call is complete; it returns its id.
func (x *Execution) Checkpoint(ctx context.Context) (int64, error) {
	return x.control(ctx, &controlReq{})
}

func (x *Execution) control(ctx context.Context, r *controlReq) (int64, error) {
	r.reply = make(chan controlResult, 1)
	select {
	case x.ctl <- r:
	case <-x.doneCh:
		return 0, ErrNotRunning
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case res := <-r.reply:
		return res.checkpoint, res.err
	case <-ctx.Done():
		// NB: the request goes on; a swap may still take effect. The caller
		// learns the outcome from the job's module history.
		return 0, ctx.Err()
	}
}

// ModuleHistory returns the module history as of the newest complete
// checkpoint (or the start of the current attempt).
func (x *Execution) ModuleHistory() []ModuleChange {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]ModuleChange(nil), x.modules...)
}

type controlReq struct {
	swap *SwapRequest // nil: a checkpoint only
	dlq  *DLQRequest  // a change of the DLQ, committed with the checkpoint
	// shadow starts or stops a shadow at the barrier (shadow.go); with swap,
	// at the swap's barrier (a promotion).
	shadow *shadowChange
	reply  chan controlResult
	plan   *swapPlan
}

type controlResult struct {
	checkpoint int64
	err        error
}

func (r *controlReq) done(id int64, err error) { r.reply <- controlResult{id, err} }

// swapPlan is a prepared swap: the new instances, one per subtask, handed over
// at the barrier of checkpoint id.
type swapPlan struct {
	operator string
	module   string
	id       int64 // the barrier (0 until armed)
	// canary, when set, makes ops the instances of a canary on these key
	// groups; rollback ends the canary and has no instances (canary.go).
	canary   []int
	rollback bool

	mu    sync.Mutex
	ops   []Operator // taken by the subtasks at the barrier (nil once taken)
	taken int
}

// take hands subtask i its new instance.
func (p *swapPlan) take(i int) Operator {
	p.mu.Lock()
	defer p.mu.Unlock()
	op := p.ops[i]
	p.ops[i] = nil
	p.taken++
	return op
}

// closeUntaken closes the instances no subtask took (the attempt ended first).
func (p *swapPlan) closeUntaken() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, op := range p.ops {
		if op != nil {
			op.Close()
			p.ops[i] = nil
		}
	}
}

// prepareSwap makes the new instances of every subtask of the operator.
func (a *attempt) prepareSwap(ctx context.Context, req *SwapRequest, from string) (*swapPlan, error) {
	var node *OperatorNode
	for _, n := range a.job.Operators {
		if n.Name == req.Operator {
			node = n
		}
	}
	var tasks []*inputTask
	for _, t := range a.tasks {
		if t.id.node == req.Operator {
			tasks = append(tasks, t)
		}
	}
	p := &swapPlan{operator: req.Operator, module: req.Module, canary: req.canary, rollback: req.rollback}
	if req.rollback {
		return p, nil
	}
	what := "swap"
	if req.canary != nil {
		what = "canary"
	}
	for i, t := range tasks {
		keyed := len(node.Inputs) > 0 && node.Inputs[0].Partition == KeyBy
		op, err := req.Factory.NewOperator(ctx, OperatorInfo{Job: a.job.Name, Name: node.Name, Subtask: i, Parallelism: node.Parallelism, Keyed: keyed, Config: node.Config, Logger: t.log})
		if err == nil && req.Migrate {
			if m, ok := op.(Migrator); !ok {
				err = fmt.Errorf("module %s has no migrate step", req.Module)
			} else {
				err = m.Migrate(ctx, from)
			}
			if err != nil {
				op.Close()
			}
		}
		if err != nil {
			p.closeUntaken()
			return nil, fmt.Errorf("%s of operator %q to module %s refused: subtask %d: %w", what, req.Operator, req.Module, i, err)
		}
		p.ops = append(p.ops, op)
	}
	return p, nil
}

// armSwap makes plan take effect at the barrier of checkpoint id.
func (a *attempt) armSwap(id int64, plan *swapPlan) {
	a.swapMu.Lock()
	defer a.swapMu.Unlock()
	plan.id = id
	a.swaps = append(a.swaps, plan)
}

// swapAt returns the plan of operator that takes effect at barrier id, if any.
func (a *attempt) swapAt(id int64, operator string) *swapPlan {
	a.swapMu.Lock()
	defer a.swapMu.Unlock()
	for _, p := range a.swaps {
		if p.id == id && p.operator == operator {
			return p
		}
	}
	return nil
}

// controller is the coordinator's side of control requests: it forces
// checkpoints and arms swaps, and answers each request once a checkpoint
// taken after it is complete (or fails them when the attempt ends).
type controller struct {
	at       *attempt
	queue    []*controlReq // not yet started
	forced   *controlReq   // waits for the next checkpoint to start
	awaiting []awaitingReq // started: waits for a checkpoint >= id to complete
	modules  []ModuleChange
	live     map[string]string // operator -> module of the records after the newest barrier
}

type awaitingReq struct {
	id int64
	r  *controlReq
}

func newController(a *attempt, m *Manifest) *controller {
	job := a.job
	c := &controller{at: a, live: map[string]string{}}
	if m != nil {
		c.modules = append(c.modules, m.Modules...)
	}
	for op, mod := range liveOf(c.modules) {
		c.live[op] = mod
	}
	for _, n := range job.Operators {
		if _, ok := c.live[n.Name]; !ok && n.Module != "" {
			c.modules = append(c.modules, ModuleChange{Operator: n.Name, Module: n.Module})
			c.live[n.Name] = n.Module
		}
	}
	return c
}

func liveOf(h []ModuleChange) map[string]string {
	out := map[string]string{}
	for _, c := range h {
		out[c.Operator] = c.Module
	}
	return out
}

// busy reports whether a request is started but not answered.
func (c *controller) busy() bool { return c.forced != nil || len(c.awaiting) > 0 }

// next starts the next queued request: it prepares a swap (answering at once
// when the swap is refused) and forces a checkpoint.
func (c *controller) next(ctx context.Context, coord *coordinator) {
	a := c.at
	for !c.busy() && len(c.queue) > 0 {
		r := c.queue[0]
		c.queue = c.queue[1:]
		if coord.finalID != 0 || coord.stopping {
			r.done(0, fmt.Errorf("%w: it is taking its final checkpoint", ErrNotRunning))
			continue
		}
		if r.dlq != nil {
			if err := coord.dlq.check(r.dlq, a.job); err != nil {
				r.done(0, err)
				continue
			}
		}
		if err := c.checkCanary(r); err != nil {
			r.done(0, err)
			continue
		}
		if r.swap != nil {
			plan, err := a.prepareSwap(ctx, r.swap, c.live[r.swap.Operator])
			if err != nil {
				r.done(0, err)
				continue
			}
			r.plan = plan
		}
		c.forced = r
	}
}

// triggered tells the controller that checkpoint id starts now; it arms the
// forced request's swap at that barrier and records it in the module history
// (which the coordinator writes into id's manifest). It returns the request's
// DLQ change, which id commits, if any.
func (c *controller) triggered(id int64, nowUnixMs int64) *DLQAction {
	a := c.at
	r := c.forced
	if r == nil {
		return nil
	}
	c.forced = nil
	c.awaiting = append(c.awaiting, awaitingReq{id, r})
	if r.shadow != nil {
		a.armShadow(id, r.shadow)
	}
	if r.plan != nil {
		a.armSwap(id, r.plan)
		p := r.plan
		ch := ModuleChange{Operator: p.operator, Module: c.live[p.operator], FromCheckpoint: id, TimeUnixMs: nowUnixMs}
		switch {
		case p.canary != nil:
			ch.CanaryModule, ch.CanaryKeyGroups = p.module, groupsToRanges(p.canary)
		case p.rollback:
		default:
			c.live[p.operator] = p.module
			ch.Module = p.module
		}
		c.modules = append(c.modules, ch)
	}
	if r.dlq == nil {
		return nil
	}
	return &DLQAction{Kind: r.dlq.Kind, IDs: slices.Clone(r.dlq.IDs), Value: r.dlq.Value, Note: r.dlq.Note, Checkpoint: id, TimeUnixMs: nowUnixMs}
}

// completed answers the requests that checkpoint id completes.
func (c *controller) completed(id int64) {
	rest := c.awaiting[:0]
	for _, w := range c.awaiting {
		if w.id <= id {
			w.r.done(w.id, nil)
		} else {
			rest = append(rest, w)
		}
	}
	c.awaiting = rest
}

// fail answers every request left when the attempt ends.
func (c *controller) fail(cause error) {
	if cause == nil {
		cause = ErrNotRunning
	}
	all := c.queue
	if c.forced != nil {
		all = append(all, c.forced)
	}
	for _, w := range c.awaiting {
		all = append(all, w.r)
	}
	for _, r := range all {
		if r.plan != nil && (r.plan.canary != nil || r.plan.rollback) {
			r.plan.closeUntaken()
			r.done(0, fmt.Errorf("the job restarted or stopped before the canary change of operator %q was in a complete checkpoint; it runs the modules of its last complete checkpoint: %w", r.plan.operator, cause))
		} else if r.plan != nil {
			r.plan.closeUntaken()
			r.done(0, fmt.Errorf("the job restarted or stopped before the swap of operator %q to %s was in a complete checkpoint; it runs the module of its last complete checkpoint: %w", r.plan.operator, r.plan.module, cause))
		} else {
			r.done(0, fmt.Errorf("the job restarted or stopped before the checkpoint was complete: %w", cause))
		}
	}
	c.queue, c.forced, c.awaiting = nil, nil, nil
}

// checkCanary refuses a request that does not fit the operator's canary: a
// canary start or a shadow start while one runs, a rollback while none runs.
func (c *controller) checkCanary(r *controlReq) error {
	switch {
	case r.swap != nil && r.swap.canary != nil:
		if cn := canaryOf(c.modules, r.swap.Operator); cn != nil {
			return fmt.Errorf("canary of operator %q refused: it runs a canary of module %s already; promote it or roll it back first", r.swap.Operator, cn.Module)
		}
	case r.swap != nil && r.swap.rollback:
		if canaryOf(c.modules, r.swap.Operator) == nil {
			return fmt.Errorf("operator %q: %w", r.swap.Operator, ErrNoCanary)
		}
	case r.shadow != nil && r.shadow.run != nil:
		if cn := canaryOf(c.modules, r.shadow.operator); cn != nil {
			return fmt.Errorf("shadow of operator %q refused: it runs a canary of module %s; promote it or roll it back first", r.shadow.operator, cn.Module)
		}
	}
	return nil
}

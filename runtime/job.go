package runtime

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Job is a dataflow graph ready to run: sources -> operators -> sinks, with the
// plugins already resolved. The jobspec package builds one from YAML; tests
// build them directly.
type Job struct {
	Name string
	// MaxParallelism is the number of key groups (default 128, at most 32768). It
	// cannot change across restores of the same state.
	MaxParallelism int
	Checkpoint     CheckpointConfig
	Restart        RestartConfig
	Sources        []*SourceNode
	Operators      []*OperatorNode
	Sinks          []*SinkNode
	// Caller makes the operators' external calls (abi/ABI.md §5.3); nil: the
	// job has no endpoints, and every call fails with NOT_FOUND.
	Caller Caller
	// CallJournalTTL is, per endpoint name, how long (in processing time) the
	// call journal keeps a response of the endpoint; an endpoint not in it
	// keeps them DefaultCallJournalTTL. Each value must be > 0.
	CallJournalTTL map[string]time.Duration
	// Acks, if set, receives one ACK or NACK per input message once the
	// checkpoint that covers it is committed (acks.go).
	Acks AckSink
}

// timing is what a TimingAware sink or ack target checks its system against.
func (j *Job) timing() JobTiming {
	return JobTiming{CheckpointInterval: j.Checkpoint.Interval, CheckpointTimeout: j.Checkpoint.Timeout, RestartDelay: j.Restart.Delay}
}

// DefaultCallJournalTTL is how long the call journal keeps a response of an
// endpoint whose TTL the job does not set: a day, as long as payment APIs
// typically remember an idempotency key.
const DefaultCallJournalTTL = 24 * time.Hour

// callJournalTTL returns the journal TTL of the responses of endpoint.
func (j *Job) callJournalTTL(endpoint []byte) time.Duration {
	if ttl, ok := j.CallJournalTTL[string(endpoint)]; ok {
		return ttl
	}
	return DefaultCallJournalTTL
}

// CheckpointConfig says how often checkpoints are taken and how many are kept.
type CheckpointConfig struct {
	Interval time.Duration // between the start of two checkpoints (default 5s)
	Timeout  time.Duration // a checkpoint not complete by then is abandoned (default 10m)
	Retain   int           // complete checkpoints kept in the store (default 3)
}

// RestartConfig bounds automatic recovery.
type RestartConfig struct {
	// Attempts is how many times a failed job restarts before it fails for
	// good (default 3; NoRestarts for none).
	Attempts int
	Delay    time.Duration // wait before each restart (default 1s)
}

// SourceNode is a source in a Job.
type SourceNode struct {
	Name        string
	Parallelism int
	Source      Source
	// OutOfOrderness is the bound used for watermarks: a split's watermark is
	// its highest timestamp so far minus OutOfOrderness.
	OutOfOrderness time.Duration
}

// OperatorNode is a user operator in a Job.
type OperatorNode struct {
	Name        string
	Parallelism int
	Inputs      []Input
	Factory     OperatorFactory
	Config      []byte // handed to each instance in OperatorInfo.Config
	// Module identifies the code Factory runs (the server uses the module's
	// "sha256:..." digest), recorded in every checkpoint's module history.
	// Empty: not tracked.
	Module string
	// OnFailure says what happens when the guest fails on a record (failure.go);
	// the zero value fails the job at the first failing record.
	OnFailure FailurePolicy
	// Journal records the operator's input batches with each checkpoint, for
	// Replay (journal.go).
	Journal bool
}

// SinkNode is a sink in a Job.
type SinkNode struct {
	Name        string
	Parallelism int
	Inputs      []Input
	Sink        Sink
}

// Input is an edge into an operator or sink.
type Input struct {
	From      string // name of the upstream node
	Port      int    // output port of the upstream operator (0 = main)
	Partition Partitioning
}

// Partitioning says how records on an edge reach the downstream subtasks.
type Partitioning int

const (
	// Forward sends subtask i's records to subtask i; both sides need the same
	// parallelism.
	Forward Partitioning = iota
	// KeyBy routes each record by the key group of its key; the downstream
	// operator is keyed and may use state and timers.
	KeyBy
	// Rebalance spreads batches round-robin over the downstream subtasks.
	Rebalance
)

func (p Partitioning) String() string {
	switch p {
	case Forward:
		return "forward"
	case KeyBy:
		return "keyBy"
	case Rebalance:
		return "rebalance"
	}
	return fmt.Sprintf("Partitioning(%d)", int(p))
}

// NoRestarts as RestartConfig.Attempts makes the first failure final.
const NoRestarts = -1

// Defaults applied by WithDefaults.
const (
	DefaultMaxParallelism     = 128
	DefaultCheckpointInterval = 5 * time.Second
	DefaultCheckpointTimeout  = 10 * time.Minute
	DefaultCheckpointsRetain  = 3
	DefaultRestartAttempts    = 3
	DefaultRestartDelay       = time.Second
)

// WithDefaults fills zero fields with their defaults, in place, and returns j.
// Parallelism 0 becomes 1.
func (j *Job) WithDefaults() *Job {
	if j.MaxParallelism == 0 {
		j.MaxParallelism = DefaultMaxParallelism
	}
	if j.Checkpoint.Interval == 0 {
		j.Checkpoint.Interval = DefaultCheckpointInterval
	}
	if j.Checkpoint.Timeout == 0 {
		j.Checkpoint.Timeout = DefaultCheckpointTimeout
	}
	if j.Checkpoint.Retain == 0 {
		j.Checkpoint.Retain = DefaultCheckpointsRetain
	}
	if j.Restart.Attempts == 0 {
		j.Restart.Attempts = DefaultRestartAttempts
	}
	if j.Restart.Delay == 0 {
		j.Restart.Delay = DefaultRestartDelay
	}
	for _, n := range j.Sources {
		n.Parallelism = max(n.Parallelism, 1)
	}
	for _, n := range j.Operators {
		n.Parallelism = max(n.Parallelism, 1)
	}
	for _, n := range j.Sinks {
		n.Parallelism = max(n.Parallelism, 1)
	}
	return j
}

// Validate checks the graph: unique names, known inputs, no cycles, forward
// edges between equal parallelisms, consistent keying, no output read twice by
// one node, and that every source and operator has a consumer. The error names
// the node and what is wrong.
func (j *Job) Validate() error {
	var errs []error
	bad := func(node, format string, args ...any) {
		errs = append(errs, fmt.Errorf("job %q: %s: %s", j.Name, node, fmt.Sprintf(format, args...)))
	}
	if j.MaxParallelism < 1 || j.MaxParallelism > MaxKeyGroups {
		bad("maxParallelism", "%d is outside 1..%d", j.MaxParallelism, MaxKeyGroups)
	}
	if len(j.Sources) == 0 {
		bad("sources", "a job needs at least one source")
	}
	for _, name := range slices.Sorted(maps.Keys(j.CallJournalTTL)) {
		if ttl := j.CallJournalTTL[name]; ttl <= 0 {
			bad("callJournalTTL", "endpoint %q: the TTL %v is not > 0", name, ttl)
		}
	}
	if len(j.Sinks) == 0 {
		bad("sinks", "a job needs at least one sink")
	}
	par := map[string]int{}
	kind := map[string]string{}
	add := func(name, k string, p int) {
		if name == "" {
			bad(k, "a node has no name")
			return
		}
		if prev, dup := kind[name]; dup {
			bad(name, "the name is used by a %s already", prev)
		}
		kind[name] = k
		par[name] = p
		if p < 1 {
			bad(name, "parallelism %d is less than 1", p)
		}
		if j.MaxParallelism >= 1 && p > j.MaxParallelism {
			bad(name, "parallelism %d is more than maxParallelism %d", p, j.MaxParallelism)
		}
	}
	for _, n := range j.Sources {
		add(n.Name, "source", n.Parallelism)
		if n.Source == nil {
			bad(n.Name, "no source implementation")
		}
	}
	for _, n := range j.Operators {
		add(n.Name, "operator", n.Parallelism)
		if n.Factory == nil {
			bad(n.Name, "no operator implementation")
		}
		if f := n.OnFailure; f.Retries < 0 || f.Retries > MaxRetries || f.Backoff < 0 || f.Backoff > MaxBackoff || (f.Action != FailStop && f.Action != FailDLQ) {
			bad(n.Name, "onFailure: action %v, retries %d (allowed 0..%d), backoff %v (allowed 0..%v)", f.Action, f.Retries, MaxRetries, f.Backoff, MaxBackoff)
		}
	}
	for _, n := range j.Sinks {
		add(n.Name, "sink", n.Parallelism)
		if n.Sink == nil {
			bad(n.Name, "no sink implementation")
		}
	}
	consumed := map[string]bool{}
	checkInputs := func(name string, p int, ins []Input) {
		if len(ins) == 0 {
			bad(name, "no inputs")
		}
		keyed := 0
		seen := map[Input]bool{}
		for _, in := range ins {
			consumed[in.From] = true
			if k := (Input{From: in.From, Port: in.Port}); seen[k] {
				bad(name, "reads port %d of %q twice", in.Port, in.From)
			} else {
				seen[k] = true
			}
			k, ok := kind[in.From]
			switch {
			case !ok:
				bad(name, "input from unknown node %q", in.From)
				continue
			case k == "sink":
				bad(name, "input from %q, which is a sink", in.From)
			case in.Port < 0 || in.Port > 255:
				bad(name, "input port %d is outside 0..255", in.Port)
			case k == "source" && in.Port != 0:
				bad(name, "input port %d of source %q: sources have port 0 only", in.Port, in.From)
			}
			if in.Partition == Forward && par[in.From] != p {
				bad(name, "forward input from %q needs equal parallelism (%d here, %d there); use keyBy or rebalance", in.From, p, par[in.From])
			}
			if in.Partition == KeyBy {
				keyed++
			}
		}
		if keyed != 0 && keyed != len(ins) {
			bad(name, "some inputs are keyBy and some are not; a keyed operator needs every input keyed")
		}
	}
	for _, n := range j.Operators {
		checkInputs(n.Name, n.Parallelism, n.Inputs)
	}
	for _, n := range j.Sinks {
		checkInputs(n.Name, n.Parallelism, n.Inputs)
	}
	for _, n := range j.Sources {
		if !consumed[n.Name] {
			bad(n.Name, "nothing reads this source")
		}
	}
	for _, n := range j.Operators {
		if !consumed[n.Name] {
			bad(n.Name, "nothing reads this operator's output")
		}
	}
	if len(errs) == 0 {
		if _, err := j.topoOrder(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// topoOrder returns operator names in an order where every operator comes after
// its inputs, or an error naming a cycle.
func (j *Job) topoOrder() ([]string, error) {
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	ops := map[string]*OperatorNode{}
	for _, o := range j.Operators {
		ops[o.Name] = o
	}
	var order []string
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		o, ok := ops[name]
		if !ok {
			return nil // a source
		}
		switch state[name] {
		case 1:
			return fmt.Errorf("job %q: operators form a cycle: %v", j.Name, append(path, name))
		case 2:
			return nil
		}
		state[name] = 1
		for _, in := range o.Inputs {
			if err := visit(in.From, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, name)
		return nil
	}
	for _, o := range j.Operators {
		if err := visit(o.Name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

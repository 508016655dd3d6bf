package runtime

import (
	"errors"
	"time"

	"github.com/weirstream/weir/abi"
)

// Data exchange between subtasks. A channel carries messages from one upstream
// subtask to one downstream subtask, in order: record batches, watermarks, and
// checkpoint barriers. A subtask owns the batch buffers it receives.

type msgKind uint8

const (
	msgBatch     msgKind = iota + 1 // batch holds an encoded abi batch of records
	msgWatermark                    // watermark holds the sender's new watermark
	msgBarrier                      // checkpoint holds the checkpoint id
)

type message struct {
	kind       msgKind
	batch      []byte
	watermark  int64
	checkpoint int64
}

// errCancelled is returned by a link whose execution was torn down.
var errCancelled = errors.New("execution cancelled")

// link is the sending end of one channel. In production it is a Go channel
// (a bounded queue: a full one blocks the sender, which is backpressure); in the
// simulation it is a queue the scheduler drains.
type link interface {
	send(m message) error
}

// chanLink is the production link.
type chanLink struct {
	ch    chan message
	done  <-chan struct{}
	timer *blockTimer // nil: not measured
}

func (l chanLink) send(m message) error {
	select {
	case l.ch <- m:
		return nil
	default:
	}
	// The channel is full: the receiver backpressures this sender.
	start := time.Now()
	select {
	case l.ch <- m:
		if l.timer != nil {
			l.timer.blocked(time.Since(start))
		}
		return nil
	case <-l.done:
		return errCancelled
	}
}

// measured returns l with its blocked time reported to t.
func (l chanLink) measured(t *blockTimer) link { l.timer = t; return l }

// DefaultBatchRecords and maxBatchBytes bound the batches a subtask sends: a
// writer is flushed when it reaches either.
const (
	DefaultBatchRecords = 1024
	maxBatchBytes       = 256 << 10
)

// output is one output port of a subtask: the edges that leave it.
type output struct {
	edges []*outEdge
}

// outEdge routes records to the subtasks of one downstream node.
type outEdge struct {
	partition      Partitioning
	targets        []link
	writers        []abi.Writer // one per target
	maxParallelism int
	maxRecords     int // flush a writer at this many records
	next           int // rebalance: next target
	pool           *bufPool
}

func newOutEdge(p Partitioning, targets []link, maxParallelism, maxRecords int, pool *bufPool) *outEdge {
	e := &outEdge{partition: p, targets: targets, writers: make([]abi.Writer, len(targets)), maxParallelism: maxParallelism, maxRecords: maxRecords, pool: pool}
	for i := range e.writers {
		e.writers[i].Use(pool.get())
		e.writers[i].Reset()
	}
	return e
}

// addBatch routes every entry of the valid batch b.
func (e *outEdge) addBatch(b []byte) error {
	if abi.Count(b) == 0 {
		return nil
	}
	switch e.partition {
	case KeyBy:
		r := abi.NewReader(b)
		for r.Next() {
			t := SubtaskFor(abi.KeyGroup(r.Entry().Key, e.maxParallelism), len(e.targets), e.maxParallelism)
			w := &e.writers[t]
			w.AppendRaw(r.Raw())
			if w.Count() >= e.maxRecords || w.Size() >= maxBatchBytes {
				if err := e.flushOne(t); err != nil {
					return err
				}
			}
		}
		return r.Err()
	case Rebalance:
		t := e.next
		e.next = (e.next + 1) % len(e.targets)
		return e.addTo(t, b)
	default: // Forward: the caller built targets so that there is exactly one
		return e.addTo(0, b)
	}
}

// handOver sends the valid batch b, which the caller gives up, to its target
// as it is, if the edge sends whole batches and holds no record for that
// target (so that records stay in order); it reports whether it did.
func (e *outEdge) handOver(b []byte) (bool, error) {
	t := 0
	switch e.partition {
	case KeyBy:
		return false, nil
	case Rebalance:
		t = e.next
	}
	if e.writers[t].Count() != 0 || abi.Count(b) == 0 {
		return false, nil
	}
	if e.partition == Rebalance {
		e.next = (e.next + 1) % len(e.targets)
	}
	// The header as an edge writer's: whatever the caller set in it goes.
	abi.SetHeader(b, abi.NoTimestamp, 0)
	clear(b[abi.OffCursor:abi.BatchHeaderSize])
	return true, e.targets[t].send(message{kind: msgBatch, batch: b})
}

func (e *outEdge) addTo(t int, b []byte) error {
	w := &e.writers[t]
	w.AppendBatch(b)
	if w.Count() >= e.maxRecords || w.Size() >= maxBatchBytes {
		return e.flushOne(t)
	}
	return nil
}

func (e *outEdge) flushOne(t int) error {
	w := &e.writers[t]
	if w.Count() == 0 {
		return nil
	}
	b := w.Detach()
	w.Use(e.pool.get())
	w.Reset()
	return e.targets[t].send(message{kind: msgBatch, batch: b})
}

func (e *outEdge) flush() error {
	for t := range e.writers {
		if err := e.flushOne(t); err != nil {
			return err
		}
	}
	return nil
}

// broadcast flushes buffered records, then sends m to every target.
func (e *outEdge) broadcast(m message) error {
	if err := e.flush(); err != nil {
		return err
	}
	for _, t := range e.targets {
		if err := t.send(m); err != nil {
			return err
		}
	}
	return nil
}

// outputs is the set of output ports of a subtask.
type outputs []*output

func (o outputs) emit(port int, b []byte) error {
	if port >= len(o) || o[port] == nil {
		return nil // NB: records on an unconnected port are dropped, as Flink drops unread side outputs.
	}
	for _, e := range o[port].edges {
		if err := e.addBatch(b); err != nil {
			return err
		}
	}
	return nil
}

// emitOwned is emit for a batch b that the caller gives up (one written by the
// caller, not aliasing guest memory). When port has a single edge that sends
// whole batches (Forward or Rebalance) and holds no record for the batch's
// target, b goes to the target as it is, without the copy into the edge's
// writer, and emitOwned reports that it took b; otherwise the caller keeps b.
// The target receives the same records in the same order either way: an edge
// writer's batch and the caller's differ in nothing but their buffer.
func (o outputs) emitOwned(port int, b []byte) (taken bool, err error) {
	if port < len(o) && o[port] != nil && len(o[port].edges) == 1 {
		if taken, err := o[port].edges[0].handOver(b); taken || err != nil {
			return taken, err
		}
	}
	return false, o.emit(port, b)
}

func (o outputs) flush() error {
	for _, p := range o {
		if p == nil {
			continue
		}
		for _, e := range p.edges {
			if err := e.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o outputs) broadcast(m message) error {
	for _, p := range o {
		if p == nil {
			continue
		}
		for _, e := range p.edges {
			if err := e.broadcast(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// bufPool recycles batch buffers between subtasks, so that steady-state
// processing does not allocate a buffer per batch.
type bufPool struct {
	ch chan []byte
}

const (
	bufPoolSize    = 256 // buffers kept for reuse
	initialBufSize = 64 << 10
)

func newBufPool() *bufPool { return &bufPool{ch: make(chan []byte, bufPoolSize)} }

func (p *bufPool) get() []byte {
	select {
	case b := <-p.ch:
		return b[:0]
	default:
		return make([]byte, 0, initialBufSize)
	}
}

// put returns b for reuse; b must not be used by the caller afterwards.
func (p *bufPool) put(b []byte) {
	if cap(b) > 4*maxBatchBytes {
		return // do not keep outsized buffers
	}
	select {
	case p.ch <- b:
	default:
	}
}

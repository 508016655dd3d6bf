package host

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"

	"github.com/weirstream/weir/runtime"
)

// Guest memory: how a linear memory is backed, and the budget of a process.
//
// NB: wazero's default linear memory is a Go []byte that memory.grow extends
// with append: every growth past the capacity allocates a larger slice and
// copies the old one, which stays on the heap until the garbage collector
// frees it (and the Go runtime returns its pages to the OS later still). A
// guest growing one page at a time to its limit made the process peak at 3.5
// to 4.5 times the limit (docs/BENCHMARKS.md, "Guest memory"). Instead, every
// instance's memory is reserved once as address space for its maximum
// (mmap, no access) and memory.grow makes the new pages accessible in place
// (mprotect): nothing is copied, and a page costs memory only once the guest
// touches it. Closing the instance unmaps it at once.

// ErrGuestMemoryExhausted is in the error of a call that failed (a trap or an
// exit) after a memory.grow of the guest failed during it: the guest reached
// its memory limit (Limits.MemoryBytes, or the maximum its module declares).
var ErrGuestMemoryExhausted = errors.New("guest memory exhausted")

// DefaultMemoryBudgetFraction is the share of the machine's memory (physical
// memory, or the cgroup limit when lower) that the default guest memory budget
// takes: the rest is for the host's own heap, state caches and the OS.
const DefaultMemoryBudgetFraction = 0.75

// fallbackMemoryBudgetBytes is the default budget where the machine's memory
// is unknown.
const fallbackMemoryBudgetBytes int64 = 8 << 30

// DefaultMemoryBudgetBytes returns the default guest memory budget of a
// process: DefaultMemoryBudgetFraction of the memory the process may use
// (physical memory, or the cgroup v2 memory.max when lower; Linux), or 8 GiB
// where that is unknown.
func DefaultMemoryBudgetBytes() int64 {
	if m := machineMemoryBytes(); m > 0 {
		return int64(float64(m) * DefaultMemoryBudgetFraction)
	}
	return fallbackMemoryBudgetBytes
}

// MemoryBudget bounds the guest memory of every instance of a process, and
// accounts for it. Each instance reserves, before it starts, the most its
// linear memories may grow to (its memory limit, or the smaller maximum its
// module declares); an instance that would take the reservations past the
// budget is refused with an *ErrMemoryBudget instead of overcommitting the
// host. The reservation is returned when the instance closes. It is safe for
// concurrent use.
type MemoryBudget struct {
	limit int64

	mu       sync.Mutex
	reserved int64
	groups   map[memoryGroupKey]*memoryGroup
}

// memoryGroupKey identifies the instances of one operator of one job.
type memoryGroupKey struct{ job, operator string }

// memoryGroup is the guest memory of the instances of one operator.
type memoryGroup struct {
	module    string
	instances int   // under mu of the budget
	reserved  int64 // under mu of the budget
	bytes     atomic.Int64
}

// NewMemoryBudget returns a budget of limitBytes; 0 or less means
// DefaultMemoryBudgetBytes().
func NewMemoryBudget(limitBytes int64) *MemoryBudget {
	if limitBytes <= 0 {
		limitBytes = DefaultMemoryBudgetBytes()
	}
	return &MemoryBudget{limit: limitBytes, groups: map[memoryGroupKey]*memoryGroup{}}
}

// Limit returns the budget in bytes.
func (b *MemoryBudget) Limit() int64 { return b.limit }

// GuestMemory is the guest memory of the instances of one operator.
type GuestMemory struct {
	Job, Operator, Module string
	// Instances is the number of live instances.
	Instances int
	// Bytes is the size of their linear memories now, summed.
	Bytes int64
	// ReservedBytes is what they hold of the budget: the most their memories
	// may grow to.
	ReservedBytes int64
}

// Usage returns the guest memory of every operator with live instances,
// ordered by job and operator.
func (b *MemoryBudget) Usage() []GuestMemory {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.usageLocked()
}

// usageLocked is Usage with b.mu held.
func (b *MemoryBudget) usageLocked() []GuestMemory {
	out := make([]GuestMemory, 0, len(b.groups))
	for k, g := range b.groups {
		out = append(out, GuestMemory{Job: k.job, Operator: k.operator, Module: g.module, Instances: g.instances, Bytes: g.bytes.Load(), ReservedBytes: g.reserved})
	}
	slices.SortFunc(out, func(x, y GuestMemory) int {
		return cmp.Or(cmp.Compare(x.Job, y.Job), cmp.Compare(x.Operator, y.Operator))
	})
	return out
}

// Reserved returns the bytes the live instances hold of the budget.
func (b *MemoryBudget) Reserved() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reserved
}

// ErrMemoryBudget is the error of an instance that the guest memory budget
// cannot admit.
type ErrMemoryBudget struct {
	Operator string
	Subtask  int
	Module   string
	// NeedBytes is what the instance would reserve.
	NeedBytes int64
	// Usage is what the live instances hold.
	Usage []GuestMemory
	// ReservedBytes is their sum and BudgetBytes the budget.
	ReservedBytes, BudgetBytes int64
}

func (e *ErrMemoryBudget) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "operator %q subtask %d: guest memory budget exceeded: an instance of module %q may grow its memory to %s, but the %s budget has %s left",
		e.Operator, e.Subtask, e.Module, FormatBytes(e.NeedBytes), FormatBytes(e.BudgetBytes), FormatBytes(max(e.BudgetBytes-e.ReservedBytes, 0)))
	if len(e.Usage) > 0 {
		b.WriteString(" (live instances:")
		for i, u := range e.Usage {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s/%s %d x %s", u.Job, u.Operator, u.Instances, FormatBytes(u.ReservedBytes/int64(max(u.Instances, 1))))
		}
		b.WriteString(")")
	}
	b.WriteString("; lower the parallelism or limits.memory of the job's operators, or raise the budget (weir -memory-budget)")
	return b.String()
}

// MemoryLease is one instance's share of a MemoryBudget, and the accounting
// of its linear memories.
type MemoryLease struct {
	budget *MemoryBudget
	group  *memoryGroup
	bytes  int64

	mu       sync.Mutex
	mems     []experimental.LinearMemory // made by the allocator of WithAllocator
	released bool
}

// Reserve takes bytes of the budget for a new instance of operator info.Name
// running module, or fails with an *ErrMemoryBudget. Release the lease after
// closing the instance.
func (b *MemoryBudget) Reserve(info runtime.OperatorInfo, module string, bytes int64) (*MemoryLease, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reserved+bytes > b.limit {
		return nil, &ErrMemoryBudget{Operator: info.Name, Subtask: info.Subtask, Module: module, NeedBytes: bytes,
			Usage: b.usageLocked(), ReservedBytes: b.reserved, BudgetBytes: b.limit}
	}
	k := memoryGroupKey{info.Job, info.Name}
	g := b.groups[k]
	if g == nil {
		g = &memoryGroup{module: module}
		b.groups[k] = g
	}
	g.module = module // NB: a hot swap changes the operator's module
	g.instances++
	g.reserved += bytes
	b.reserved += bytes
	return &MemoryLease{budget: b, group: g, bytes: bytes}, nil
}

// Release frees the instance's linear memories and returns the lease to its
// budget; the instance must be closed, and its memory no longer read. It may
// be called more than once.
func (l *MemoryLease) Release() {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return
	}
	l.released = true
	mems := l.mems
	l.mems = nil
	l.mu.Unlock()
	for _, m := range mems {
		m.Free()
	}
	b := l.budget
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reserved -= l.bytes
	l.group.instances--
	l.group.reserved -= l.bytes
	if l.group.instances == 0 {
		for k, g := range b.groups {
			if g == l.group {
				delete(b.groups, k)
			}
		}
	}
}

// WithAllocator returns ctx carrying the lease's memory allocator, for
// wazero's InstantiateModule: every linear memory of the instance is then
// reserved at its maximum and grown in place (see the top of this file), and
// counted in the lease's usage. The context must not be used for other
// instances. The memories stay until Release.
//
// NB: wazero frees a memory when its module closes, and a module closes
// itself when the guest exits (proc_exit), or, with
// RuntimeConfig.WithCloseOnContextDone, from another goroutine while the
// guest may still be running; unmapping then would fault in the guest or in
// the host reading the memory after the call. So the memories wazero gets
// ignore Free, and Release, which the owner of the instance calls once it is
// done with it, unmaps them.
func (l *MemoryLease) WithAllocator(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		m := newLinearMemory(max, &l.group.bytes)
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.released {
			panic("host: memory allocated for a released lease")
		}
		l.mems = append(l.mems, m)
		return leasedMemory{m}
	}))
}

// leasedMemory is a linear memory whose Free does nothing: its lease frees it
// (see WithAllocator).
type leasedMemory struct{ experimental.LinearMemory }

func (leasedMemory) Free() {}

// FormatBytes renders n bytes with a binary unit (KiB, MiB, GiB), as job
// specs write sizes.
func FormatBytes(n int64) string {
	const k = 1 << 10
	switch {
	case n >= k*k*k:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/(k*k*k))) + "GiB"
	case n >= k*k:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/(k*k))) + "MiB"
	case n >= k:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/k)) + "KiB"
	}
	return fmt.Sprintf("%dB", n)
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

// heapMemory is a linear memory on the Go heap, grown by copying: wazero's
// own behaviour, for where address space cannot be reserved.
type heapMemory struct {
	buf   []byte
	max   uint64
	bytes *atomic.Int64 // the group's usage
}

func (m *heapMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if n := uint64(len(m.buf)); size > n {
		m.buf = append(m.buf, make([]byte, size-n)...)
		m.bytes.Add(int64(size - n))
	}
	return m.buf[:size]
}

func (m *heapMemory) Free() {
	m.bytes.Add(-int64(len(m.buf)))
	m.buf = nil
}

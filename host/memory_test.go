package host

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/weirstream/weir/runtime"
)

// growModule is a module whose weir_v1_process runs body (memory.grow in
// various shapes).
func growModule(body []byte) []byte { return spinModule(nil, body).encode() }

var (
	// growToLimit grows by one page until memory.grow fails, then traps
	// (issue 14: the hostile guest whose memory cost the host 4 times its limit).
	growToLimit = []byte{0x03, 0x40, 0x41, 0x01, 0x40, 0x00, 0x41, 0x7f, 0x47, 0x0d, 0x00, 0x0b, 0x00}
	// growThree grows by 3 pages and returns OK.
	growThree = []byte{0x41, 0x03, 0x40, 0x00, 0x1a, 0x41, 0x00}
	// growThenHandle asks for 100000 pages (more than any limit), ignores the
	// failure and returns OK, then a later call traps for another reason.
	growThenHandle = []byte{0x41, 0xa0, 0x8d, 0x06, 0x40, 0x00, 0x1a, 0x41, 0x00}
)

// TestGuestMemoryExhausted checks that a guest that traps after memory.grow
// failed gets an error that says so (ErrGuestMemoryExhausted, with the sizes),
// and that a trap without a failed grow does not.
func TestGuestMemoryExhausted(t *testing.T) {
	e := newTestEngine(t, Config{})
	ctx := context.Background()
	m, err := e.Load(ctx, "hungry", growModule(growToLimit), Limits{MemoryBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	op := newOperator(t, m, runtime.OperatorInfo{Name: "hungry"})
	err = newFakeEnv().process(ctx, op, batchOf("k", "v"))
	if !errors.Is(err, ErrGuestMemoryExhausted) {
		t.Fatalf("error %v, want ErrGuestMemoryExhausted", err)
	}
	wantSubstrings(t, err.Error(), "guest memory exhausted: memory.grow by 1 page failed with the memory at 4MiB, its limit being 4MiB", "unreachable")

	// A failed grow that the guest survives is forgotten at the next call.
	m2, err := e.Load(ctx, "handled", growModule(growThenHandle), Limits{MemoryBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	op2 := newOperator(t, m2, runtime.OperatorInfo{Name: "handled"})
	if err := newFakeEnv().process(ctx, op2, batchOf("k", "v")); err != nil {
		t.Fatal(err)
	}
	in := op2.(*operator).inst
	if got := in.growFailed.Get(); got != 100000 {
		t.Errorf("growFailed = %d after the failed grow, want 100000", got)
	}
	if err := in.call(ctx, in.mod.ExportedFunction("weir_v1_reserve"), []uint64{1 << 31}); err != nil {
		t.Fatal(err) // reserve of the test module ignores its argument
	}
	if got := in.growFailed.Get(); got != 0 {
		t.Errorf("growFailed = %d after a call without a failed grow, want 0", got)
	}
}

// TestMemoryBudget checks admission (abi/ABI.md §9, issue 14): instances
// reserve their module's memory limit, the budget refuses one too many with an
// error naming the operator, the live instances and the budget, and closing
// an instance makes room again. Usage reports the linear memory of the live
// instances.
func TestMemoryBudget(t *testing.T) {
	budget := NewMemoryBudget(8 << 20)
	e := newTestEngine(t, Config{MemoryBudget: budget})
	ctx := context.Background()
	m, err := e.Load(ctx, "three", growModule(growThree), Limits{MemoryBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.GuestMemoryBytes(); got != 4<<20 {
		t.Fatalf("GuestMemoryBytes = %d, want 4 MiB", got)
	}
	info := runtime.OperatorInfo{Job: "j", Name: "grow"}
	op0 := newOperator(t, m, info)
	info.Subtask = 1
	op1 := newOperator(t, m, info)
	if err := newFakeEnv().process(ctx, op0, batchOf("k", "v")); err != nil {
		t.Fatal(err)
	}
	want := []GuestMemory{{Job: "j", Operator: "grow", Module: "three", Instances: 2, Bytes: (1 + 3 + 1) * wasmPageBytes, ReservedBytes: 8 << 20}}
	if got := budget.Usage(); len(got) != 1 || got[0] != want[0] {
		t.Errorf("Usage = %+v, want %+v", got, want)
	}

	info.Subtask = 2
	_, err = m.NewOperator(ctx, info)
	var be *ErrMemoryBudget
	if !errors.As(err, &be) {
		t.Fatalf("third instance: error %v, want *ErrMemoryBudget", err)
	}
	wantSubstrings(t, err.Error(), `operator "grow" subtask 2: guest memory budget exceeded`, `module "three" may grow its memory to 4MiB`,
		"the 8MiB budget has 0B left", "live instances: j/grow 2 x 4MiB", "-memory-budget")

	if err := op1.Close(); err != nil {
		t.Fatal(err)
	}
	op2, err := m.NewOperator(ctx, info)
	if err != nil {
		t.Fatalf("after closing an instance: %v", err)
	}
	_ = op2.Close()
	_ = op0.Close()
	if got := budget.Usage(); len(got) != 0 || budget.Reserved() != 0 {
		t.Errorf("after closing every instance: Usage %+v, Reserved %d; want none", got, budget.Reserved())
	}
}

// TestMemoryBudgetDeclaredMax checks that an instance reserves the maximum its
// module declares when that is below the limit.
func TestMemoryBudgetDeclaredMax(t *testing.T) {
	e := newTestEngine(t, Config{})
	mod := spinModule(nil, growThree)
	mod.memMax = 2
	m, err := e.Load(context.Background(), "small", mod.encode(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.GuestMemoryBytes(); got != 2*wasmPageBytes {
		t.Errorf("GuestMemoryBytes = %d, want 2 pages", got)
	}
}

// TestLinearMemory checks the memory that backs instances: it grows in place
// up to its maximum, new pages read as zero, and Usage follows its size.
func TestLinearMemory(t *testing.T) {
	var bytes atomic.Int64
	m := newLinearMemory(4*wasmPageBytes, &bytes)
	b := m.Reallocate(wasmPageBytes)
	b[0], b[len(b)-1] = 1, 2
	b2 := m.Reallocate(3 * wasmPageBytes)
	if len(b2) != 3*wasmPageBytes || b2[0] != 1 || b2[wasmPageBytes-1] != 2 || b2[wasmPageBytes] != 0 || b2[len(b2)-1] != 0 {
		t.Fatalf("grown memory lost or invented bytes")
	}
	if _, heap := m.(*heapMemory); !heap && &b[0] != &b2[0] {
		t.Errorf("the memory moved when it grew")
	}
	if got := bytes.Load(); got != 3*wasmPageBytes {
		t.Errorf("counted %d bytes, want 3 pages", got)
	}
	if m.Reallocate(5*wasmPageBytes) != nil {
		t.Errorf("grew past its maximum")
	}
	m.Free()
	if got := bytes.Load(); got != 0 {
		t.Errorf("counted %d bytes after Free, want 0", got)
	}
	for n, want := range map[int64]string{3 << 30: "3GiB", 4095 * wasmPageBytes: "255.9MiB", 1536: "1.5KiB", 0: "0B"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %s, want %s", n, got, want)
		}
	}
}

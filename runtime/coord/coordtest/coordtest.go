// Package coordtest is the conformance suite of package coord: the same
// tests, run against every KV implementation (the in-memory twin in
// package coord, the NATS JetStream bucket in plugins/nats/natskv). Time is
// a Clock the tests advance, so no test waits on wall-clock time, whatever
// the store.
package coordtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/weirstream/weir/runtime/coord"
)

// Clock is a manual clock for the coord types' Now functions. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock { return &Clock{now: time.Unix(1_800_000_000, 0)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lease is the election lease and membership timeout of the suite; with a
// manual clock its size does not matter.
const lease = 10 * time.Second

// Run runs the suite; newKV returns an empty store for each test.
func Run(t *testing.T, newKV func(t *testing.T) coord.KV) {
	tests := []struct {
		name string
		test func(t *testing.T, kv coord.KV)
	}{
		{"KVCompareAndSwap", testKVCompareAndSwap},
		{"ElectionOneLeader", testElectionOneLeader},
		{"ElectionFailoverAfterLease", testElectionFailover},
		{"ElectionResign", testElectionResign},
		{"ElectionRace", testElectionRace},
		{"CatalogIDsOnlyGoUp", testCatalogOrder},
		{"CatalogFencesStaleLeader", testCatalogFencing},
		{"CatalogRetention", testCatalogRetention},
		{"MembershipExpiry", testMembershipExpiry},
		{"MembershipReRegister", testMembershipReRegister},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newKV(t)) })
	}
}

// must(f())(t) is f's value, or fails t with f's error.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func testKVCompareAndSwap(t *testing.T, kv coord.KV) {
	ctx := context.Background()
	if _, err := kv.Get(ctx, "a.x"); !errors.Is(err, coord.ErrKeyNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrKeyNotFound", err)
	}
	r1 := must(kv.Create(ctx, "a.x", []byte("1")))(t)
	if _, err := kv.Create(ctx, "a.x", []byte("2")); !errors.Is(err, coord.ErrConflict) {
		t.Fatalf("second Create: %v, want ErrConflict", err)
	}
	r2 := must(kv.Update(ctx, "a.x", []byte("2"), r1))(t)
	if r2 <= r1 {
		t.Fatalf("revision went from %d to %d", r1, r2)
	}
	if _, err := kv.Update(ctx, "a.x", []byte("3"), r1); !errors.Is(err, coord.ErrConflict) {
		t.Fatalf("Update at an old revision: %v, want ErrConflict", err)
	}
	if e := must(kv.Get(ctx, "a.x"))(t); string(e.Value) != "2" || e.Revision != r2 {
		t.Fatalf("Get = %q at %d, want \"2\" at %d", e.Value, e.Revision, r2)
	}
	if err := kv.Delete(ctx, "a.x", r1); !errors.Is(err, coord.ErrConflict) {
		t.Fatalf("Delete at an old revision: %v, want ErrConflict", err)
	}
	must(kv.Create(ctx, "a.y", []byte("y")))(t)
	must(kv.Create(ctx, "b.z", []byte("z")))(t)
	if keys := must(kv.Keys(ctx, "a."))(t); fmt.Sprint(keys) != "[a.x a.y]" {
		t.Fatalf("Keys(a.) = %v, want [a.x a.y]", keys)
	}
	if err := kv.Delete(ctx, "a.x", r2); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "a.x"); !errors.Is(err, coord.ErrKeyNotFound) {
		t.Fatalf("Get of a deleted key: %v, want ErrKeyNotFound", err)
	}
	if keys := must(kv.Keys(ctx, "a."))(t); fmt.Sprint(keys) != "[a.y]" {
		t.Fatalf("Keys(a.) after delete = %v, want [a.y]", keys)
	}
	if _, err := kv.Update(ctx, "a.x", []byte("4"), r2); !errors.Is(err, coord.ErrConflict) {
		t.Fatalf("Update of a deleted key: %v, want ErrConflict", err)
	}
	r3 := must(kv.Create(ctx, "a.x", []byte("5")))(t)
	if r3 <= r2 {
		t.Fatalf("re-created key has revision %d, not above %d", r3, r2)
	}
}

// candidates returns n electors on kv, on one clock.
func candidates(t *testing.T, kv coord.KV, clock *Clock, n int) []*coord.Elector {
	var es []*coord.Elector
	for i := range n {
		es = append(es, must(coord.NewElector(kv, coord.ElectionConfig{Candidate: fmt.Sprintf("jm-%d", i), Lease: lease, Now: clock.Now}))(t))
	}
	return es
}

// leaders ticks every elector and returns the indexes of those leading.
func leaders(t *testing.T, es []*coord.Elector, tick []bool) []int {
	t.Helper()
	var out []int
	for i, e := range es {
		if tick == nil || tick[i] {
			must(e.Tick(context.Background()))(t)
		}
	}
	for i, e := range es {
		if _, ok := e.Leading(); ok {
			out = append(out, i)
		}
	}
	return out
}

func testElectionOneLeader(t *testing.T, kv coord.KV) {
	clock := NewClock()
	es := candidates(t, kv, clock, 3)
	for round := range 20 {
		l := leaders(t, es, nil)
		if len(l) != 1 || l[0] != 0 {
			t.Fatalf("round %d: leaders %v, want [0] (the first to tick, renewing)", round, l)
		}
		clock.Advance(lease / 3)
	}
	ep, _ := es[0].Leading()
	if ep != 1 {
		t.Fatalf("epoch after renewals is %d, want 1", ep)
	}
	st := must(es[2].Tick(context.Background()))(t)
	if st.Leader != "jm-0" || st.Epoch != 1 || st.Self {
		t.Fatalf("standby sees %+v, want leader jm-0 at epoch 1", st)
	}
}

func testElectionFailover(t *testing.T, kv coord.KV) {
	clock := NewClock()
	es := candidates(t, kv, clock, 3)
	leaders(t, es, nil)
	// jm-0 stops ticking (it hangs or dies); the others keep ticking.
	standbys := []bool{false, true, true}
	var took int
	for step := 0; ; step++ {
		clock.Advance(lease / 4)
		l := leaders(t, es, standbys)
		if len(l) > 1 {
			t.Fatalf("step %d: leaders %v at once", step, l)
		}
		if len(l) == 1 && l[0] != 0 {
			took = l[0]
			break
		}
		if step > 8 {
			t.Fatalf("no standby took over after %v", time.Duration(step)*lease/4)
		}
	}
	ep, _ := es[took].Leading()
	if ep != 2 {
		t.Fatalf("new leader's epoch is %d, want 2", ep)
	}
	// The old leader, back, learns it is deposed.
	st := must(es[0].Tick(context.Background()))(t)
	if st.Self || st.Epoch != 2 || st.Leader != fmt.Sprintf("jm-%d", took) {
		t.Fatalf("deposed leader sees %+v, want jm-%d at epoch 2, not itself", st, took)
	}
	if l := leaders(t, es, nil); len(l) != 1 || l[0] != took {
		t.Fatalf("after the old leader's return: leaders %v, want [%d]", l, took)
	}
}

func testElectionResign(t *testing.T, kv coord.KV) {
	ctx := context.Background()
	clock := NewClock()
	es := candidates(t, kv, clock, 2)
	leaders(t, es, nil)
	if err := es[0].Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := es[0].Leading(); ok {
		t.Fatal("still leading after Resign")
	}
	// No clock advance: a released record is taken at once, at the next epoch.
	if l := leaders(t, es, []bool{false, true}); len(l) != 1 || l[0] != 1 {
		t.Fatalf("after resign: leaders %v, want [1]", l)
	}
	if ep, _ := es[1].Leading(); ep != 2 {
		t.Fatalf("epoch after resign is %d, want 2", ep)
	}
}

func testElectionRace(t *testing.T, kv coord.KV) {
	clock := NewClock()
	es := candidates(t, kv, clock, 4)
	won := map[coord.Epoch][]string{}
	var mu sync.Mutex
	for round := range 5 {
		var wg sync.WaitGroup
		for _, e := range es {
			wg.Go(func() {
				st, err := e.Tick(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if ep, ok := e.Leading(); ok && st.Self {
					mu.Lock()
					won[ep] = append(won[ep], st.Leader)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		// Everyone falls silent for a lease: the next round is a takeover race.
		_ = round
		clock.Advance(lease + time.Second)
		for _, e := range es {
			must(e.Tick(context.Background()))(t) // observe, so the lease starts counting
		}
		clock.Advance(lease + time.Second)
	}
	for ep, ws := range won {
		seen := map[string]bool{}
		for _, w := range ws {
			seen[w] = true
		}
		if len(seen) > 1 {
			t.Errorf("epoch %d won by %v", ep, ws)
		}
	}
}

// elect returns a leader elector of kv at epoch 1 and a fresh clock.
func elect(t *testing.T, kv coord.KV) (*coord.Elector, *Clock) {
	clock := NewClock()
	es := candidates(t, kv, clock, 1)
	leaders(t, es, nil)
	return es[0], clock
}

func testCatalogOrder(t *testing.T, kv coord.KV) {
	ctx := context.Background()
	e, _ := elect(t, kv)
	ep, _ := e.Leading()
	c := coord.NewCatalog(kv)
	for _, id := range []int64{1, 2, 5} {
		if err := c.Complete(ctx, ep, coord.Checkpoint{Job: "job-1", ID: id, Manifest: fmt.Sprintf("chk-%d/manifest.json", id)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []int64{5, 4} {
		if err := c.Complete(ctx, ep, coord.Checkpoint{Job: "job-1", ID: id}); !errors.Is(err, coord.ErrCheckpointNotNewer) {
			t.Fatalf("Complete of %d after 5: %v, want ErrCheckpointNotNewer", id, err)
		}
	}
	cps := must(c.Checkpoints(ctx, "job-1"))(t)
	if len(cps) != 3 || cps[2].ID != 5 || cps[2].Epoch != ep || cps[2].Manifest != "chk-5/manifest.json" {
		t.Fatalf("checkpoints %+v, want 1, 2, 5 at epoch %d", cps, ep)
	}
	if cps := must(c.Checkpoints(ctx, "job-2"))(t); len(cps) != 0 {
		t.Fatalf("checkpoints of a job without any: %+v", cps)
	}
	if jobs := must(c.Jobs(ctx))(t); fmt.Sprint(jobs) != "[job-1]" {
		t.Fatalf("Jobs = %v, want [job-1]", jobs)
	}
}

func testCatalogFencing(t *testing.T, kv coord.KV) {
	ctx := context.Background()
	clock := NewClock()
	es := candidates(t, kv, clock, 2)
	leaders(t, es, nil)
	old, _ := es[0].Leading()
	c := coord.NewCatalog(kv)
	if err := c.Complete(ctx, old, coord.Checkpoint{Job: "job-1", ID: 1}); err != nil {
		t.Fatal(err)
	}
	// jm-0 pauses (a GC pause, a partition) long enough to be deposed, but
	// still believes it leads when it wakes: only fencing stops it.
	for range 3 {
		clock.Advance(lease / 2)
		must(es[1].Tick(ctx))(t)
	}
	ep, ok := es[1].Leading()
	if !ok || ep != old+1 {
		t.Fatalf("standby: epoch %d leading %v, want %d", ep, ok, old+1)
	}
	if err := c.Complete(ctx, old, coord.Checkpoint{Job: "job-1", ID: 2}); !errors.Is(err, coord.ErrFenced) {
		t.Fatalf("Complete by the deposed leader: %v, want ErrFenced", err)
	}
	cps := must(c.Fence(ctx, "job-1", ep))(t)
	if len(cps) != 1 || cps[0].ID != 1 {
		t.Fatalf("Fence returned %+v, want checkpoint 1", cps)
	}
	if err := c.Complete(ctx, ep, coord.Checkpoint{Job: "job-1", ID: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fence(ctx, "job-1", old); !errors.Is(err, coord.ErrFenced) {
		t.Fatalf("Fence by the deposed leader: %v, want ErrFenced", err)
	}
	// The job's own fence holds even where the leader record does not say
	// so: a catalog fenced at a higher epoch refuses a lower one.
	if err := c.Complete(ctx, ep-1, coord.Checkpoint{Job: "job-1", ID: 3}); !errors.Is(err, coord.ErrFenced) {
		t.Fatalf("Complete below the job's fence: %v, want ErrFenced", err)
	}
	if cps := must(c.Checkpoints(ctx, "job-1"))(t); len(cps) != 2 || cps[1].Epoch != ep {
		t.Fatalf("checkpoints %+v, want 1 (epoch %d) and 2 (epoch %d)", cps, old, ep)
	}
}

func testCatalogRetention(t *testing.T, kv coord.KV) {
	ctx := context.Background()
	e, _ := elect(t, kv)
	ep, _ := e.Leading()
	c := coord.NewCatalog(kv)
	n := coord.MaxRetainedCheckpoints + 5
	for id := 1; id <= n; id++ {
		if err := c.Complete(ctx, ep, coord.Checkpoint{Job: "job-1", ID: int64(id)}); err != nil {
			t.Fatal(err)
		}
	}
	cps := must(c.Checkpoints(ctx, "job-1"))(t)
	if len(cps) != coord.MaxRetainedCheckpoints || cps[0].ID != int64(n-coord.MaxRetainedCheckpoints+1) || cps[len(cps)-1].ID != int64(n) {
		t.Fatalf("kept %d checkpoints, %d to %d; want the newest %d", len(cps), cps[0].ID, cps[len(cps)-1].ID, coord.MaxRetainedCheckpoints)
	}
}

func ids(ms []coord.Member) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.ID)
	}
	return fmt.Sprint(s)
}

func testMembershipExpiry(t *testing.T, kv coord.KV) {
	ctx := context.Background()
	clock := NewClock()
	view := must(coord.NewMembership(kv, coord.MembershipConfig{Timeout: lease, Now: clock.Now}))(t)
	var regs []*coord.Registration
	for i := range 3 {
		regs = append(regs, must(coord.Register(ctx, kv, coord.Member{ID: fmt.Sprintf("tm-%d", i), Addr: fmt.Sprintf("127.0.0.1:%d", 7000+i), Slots: 2}))(t))
	}
	live, expired := must2(t)(view.Refresh(ctx))
	if ids(live) != "[tm-0 tm-1 tm-2]" || len(expired) != 0 || live[1].Slots != 2 || live[1].Addr != "127.0.0.1:7001" {
		t.Fatalf("live %+v expired %+v, want the three", live, expired)
	}
	// tm-1 stops heartbeating.
	for range 4 {
		clock.Advance(lease / 3)
		for _, i := range []int{0, 2} {
			if err := regs[i].Heartbeat(ctx); err != nil {
				t.Fatal(err)
			}
		}
		live, expired = must2(t)(view.Refresh(ctx))
		if len(expired) > 0 {
			break
		}
	}
	if ids(live) != "[tm-0 tm-2]" || ids(expired) != "[tm-1]" {
		t.Fatalf("live %v expired %v, want tm-1 expired", ids(live), ids(expired))
	}
	if err := regs[1].Heartbeat(ctx); !errors.Is(err, coord.ErrExpired) {
		t.Fatalf("heartbeat of an expired member: %v, want ErrExpired", err)
	}
	// A clean leave is gone from the next view at once.
	if err := regs[2].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if live, _ = must2(t)(view.Refresh(ctx)); ids(live) != "[tm-0]" {
		t.Fatalf("live %v after tm-2 left, want [tm-0]", ids(live))
	}
}

func testMembershipReRegister(t *testing.T, kv coord.KV) {
	ctx := context.Background()
	clock := NewClock()
	view := must(coord.NewMembership(kv, coord.MembershipConfig{Timeout: lease, Now: clock.Now}))(t)
	first := must(coord.Register(ctx, kv, coord.Member{ID: "tm-0", Addr: "a:1", Slots: 1}))(t)
	// The process restarts under the same id before it was expired.
	second := must(coord.Register(ctx, kv, coord.Member{ID: "tm-0", Addr: "a:2", Slots: 4}))(t)
	if first.Member().Session == second.Member().Session {
		t.Fatal("two registrations share a session")
	}
	if err := first.Heartbeat(ctx); !errors.Is(err, coord.ErrExpired) {
		t.Fatalf("heartbeat of the replaced registration: %v, want ErrExpired", err)
	}
	live, _ := must2(t)(view.Refresh(ctx))
	if len(live) != 1 || live[0].Session != second.Member().Session || live[0].Slots != 4 {
		t.Fatalf("live %+v, want the second registration", live)
	}
	if _, err := coord.Register(ctx, kv, coord.Member{ID: "tm.0", Slots: 1}); err == nil {
		t.Fatal("Register accepted the id tm.0")
	}
	if _, err := coord.Register(ctx, kv, coord.Member{ID: "tm-1", Slots: 0}); err == nil {
		t.Fatal("Register accepted 0 slots")
	}
}

func must2(t *testing.T) func(a, b []coord.Member, err error) ([]coord.Member, []coord.Member) {
	return func(a, b []coord.Member, err error) ([]coord.Member, []coord.Member) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}

package runtime_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
)

// TestCanary runs a canary of v1 on a quarter of the key groups of a keyed
// operator live on v0, restarts the job while it runs, rolls it back, starts
// it again and promotes it; it checks that each record went through the
// module its key group and phase call for, and that state carried over.
func TestCanary(t *testing.T) {
	const keys, perPhase = 40, 400
	src := &gatedSource{keys: keys}
	sink := memory.NewSink()
	mods := resolver{"v0": versionFactory(0), "v1": versionFactory(1)}
	cfg := runtime.Config{Store: memory.NewStore(), State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t), Modules: mods}
	ctx := context.Background()
	groups, err := runtime.CanaryKeyGroups(25, runtime.DefaultMaxParallelism)
	if err != nil || len(groups) != 32 {
		t.Fatalf("CanaryKeyGroups(25, 128) = %d groups, %v; want 32", len(groups), err)
	}
	inCanary := map[int]bool{}
	for _, g := range groups {
		inCanary[g] = true
	}
	canaryKeys := 0
	for k := range keys {
		if inCanary[abi.KeyGroup(fmt.Appendf(nil, "k%d", k), runtime.DefaultMaxParallelism)] {
			canaryKeys++
		}
	}
	if canaryKeys == 0 || canaryKeys == keys {
		t.Fatalf("%d of %d keys in the canary's key groups: the test cannot tell the modules apart", canaryKeys, keys)
	}

	x, err := runtime.Start(ctx, swapJob(src, sink), cfg)
	if err != nil {
		t.Fatal(err)
	}
	written := int64(0) // by the current execution
	phase := func(f func()) {
		t.Helper()
		src.released.Add(perPhase)
		written += perPhase
		for x.Stats().Records()["out"] < written {
			select {
			case <-x.Done():
				_, err := x.Wait()
				t.Fatalf("job ended: %v", err)
			case <-time.After(time.Millisecond):
			}
		}
		f()
	}
	restart := func() {
		t.Helper()
		x.Stop()
		if _, err := x.Wait(); err != nil {
			t.Fatal(err)
		}
		if x, err = runtime.Start(ctx, swapJob(src, sink), cfg); err != nil {
			t.Fatal(err)
		}
		written = 0
	}
	start := func() {
		t.Helper()
		if _, err := x.StartCanary(ctx, runtime.CanaryRequest{Operator: "count", Module: "v1", Factory: versionFactory(1), KeyGroups: groups}); err != nil {
			t.Fatalf("start canary: %v", err)
		}
	}
	// want[phase] is the module of a record of a canary key group; others run v0
	// except after the promotion.
	want := []int{0, 1, 1, 0, 1, 1}
	phase(start) // 0 -> 1
	phase(func() {
		if _, err := x.StartCanary(ctx, runtime.CanaryRequest{Operator: "count", Module: "v1", Factory: versionFactory(1), KeyGroups: groups}); err == nil || !strings.Contains(err.Error(), "already") {
			t.Errorf("a second canary: %v, want a refusal", err)
		}
		if c := x.Canaries(); len(c) != 1 || c[0].Module != "v1" || c[0].LiveModule != "v0" || len(c[0].KeyGroups) != len(groups) {
			t.Errorf("Canaries() = %+v", c)
		}
		restart() // the canary is restored with the checkpoint
	}) // 1 -> 2
	phase(func() {
		if _, err := x.RollbackCanary(ctx, "count"); err != nil {
			t.Fatalf("rollback: %v", err)
		}
		if _, err := x.RollbackCanary(ctx, "count"); err == nil || !strings.Contains(err.Error(), runtime.ErrNoCanary.Error()) {
			t.Errorf("a rollback without a canary: %v", err)
		}
	}) // 2 -> 3
	phase(start) // 3 -> 4
	phase(func() {
		if _, err := x.SwapModule(ctx, runtime.SwapRequest{Operator: "count", Module: "v1", Factory: versionFactory(1)}); err != nil {
			t.Fatalf("promote: %v", err)
		}
		if c := x.Canaries(); len(c) != 0 {
			t.Errorf("Canaries() after the promotion = %+v", c)
		}
	}) // 4 -> 5
	phase(func() {})
	x.Stop()
	if _, err := x.Wait(); err != nil {
		t.Fatal(err)
	}

	got := sink.Committed()
	if len(got) != len(want)*perPhase {
		t.Fatalf("%d committed records, want %d", len(got), len(want)*perPhase)
	}
	seen := map[int]bool{}
	ran := map[string]int{}
	for _, line := range got {
		key, v, n, seq := versionedLine(t, line, seen)
		p := seq / perPhase
		mod := 0
		if p == 5 || inCanary[abi.KeyGroup([]byte(key), runtime.DefaultMaxParallelism)] {
			mod = want[p]
		}
		if v != mod {
			t.Errorf("record %d (key %s, phase %d) went through v%d, want v%d", seq, key, p, v, mod)
		}
		if want := seq/keys + 1; n != want {
			t.Errorf("record %d: count %d, want %d (state lost or doubled)", seq, n, want)
		}
		ran[fmt.Sprintf("phase %d v%d", p, v)]++
	}
	t.Logf("%d of %d keys in the canary; records per phase and module: %v", canaryKeys, keys, ran)
}

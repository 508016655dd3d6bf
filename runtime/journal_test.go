package runtime_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
)

// TestReplay journals the input of a keyed operator while it runs through a
// canary, a swap and a restart, then replays it from a middle checkpoint: with
// the job's modules the output must equal what the checkpoints after it
// committed, record for record; with another module it must be that module's
// output of the same records, from the same state.
func TestReplay(t *testing.T) {
	const keys, perPhase = 11, 300
	src := &gatedSource{keys: keys}
	sink := memory.NewSink()
	mods := resolver{"v0": versionFactory(0), "v1": versionFactory(1), "v2": versionFactory(2)}
	store := memory.NewStore()
	cfg := runtime.Config{Store: store, State: memory.StateFactory{}, WorkDir: t.TempDir(), Logger: testLogger(t), Modules: mods}
	ctx := context.Background()
	job := func() *runtime.Job {
		j := swapJob(src, sink)
		j.Operators[0].Journal = true
		j.Checkpoint.Retain = 100
		return j
	}
	x, err := runtime.Start(ctx, job(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	written := int64(0)
	phase := func() {
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
	}
	phase()
	from, err := x.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	phase()
	if _, err := x.StartCanary(ctx, runtime.CanaryRequest{Operator: "count", Module: "v1", Factory: versionFactory(1), KeyGroups: []int{0, 1, 2, 40, 41, 90}}); err != nil {
		t.Fatal(err)
	}
	phase()
	x.Stop() // a restart: the journal goes on in the next attempt
	if _, err := x.Wait(); err != nil {
		t.Fatal(err)
	}
	if x, err = runtime.Start(ctx, job(), cfg); err != nil {
		t.Fatal(err)
	}
	written = 0
	phase()
	if _, err := x.SwapModule(ctx, runtime.SwapRequest{Operator: "count", Module: "v2", Factory: versionFactory(2)}); err != nil {
		t.Fatal(err)
	}
	phase()
	x.Stop()
	if _, err := x.Wait(); err != nil {
		t.Fatal(err)
	}

	replay := func(f runtime.OperatorFactory) ([]string, runtime.ReplayStats) {
		t.Helper()
		var out []string
		st, err := runtime.Replay(ctx, job(), runtime.ReplayConfig{Store: store, State: memory.StateFactory{}, WorkDir: t.TempDir(), Modules: mods, Logger: testLogger(t)},
			runtime.ReplayRequest{Operator: "count", From: from, Factory: f}, func(o runtime.ReplayOutput) error {
				r := abi.NewReader(o.Batch)
				for r.Next() {
					out = append(out, string(r.Entry().Key)+"="+string(r.Entry().Value))
				}
				return r.Err()
			})
		if err != nil {
			t.Fatalf("replay from %d: %v", from, err)
		}
		sort.Strings(out)
		return out, st
	}
	want := sink.CommittedAfter(from)
	got, st := replay(nil)
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Logf("first difference at %d: replayed %q, committed %q", i, got[i], want[i])
			break
		}
	}
	if len(want) != 4*perPhase || !slices.Equal(got, want) {
		t.Fatalf("replay from checkpoint %d with the job's modules: %d records, committed after it %d (want %d); equal: %v", from, len(got), len(want), 4*perPhase, slices.Equal(got, want))
	}
	versions := map[string]int{}
	for _, l := range got {
		_, v, _ := strings.Cut(l, "=")
		versions[v[:2]]++
	}
	if versions["v0"] == 0 || versions["v1"] == 0 || versions["v2"] == 0 {
		t.Errorf("the replay ran the modules %v, want v0, v1 (the canary) and v2", versions)
	}
	t.Logf("replay %+v: %d records, byte-identical to the committed output; by module %v", st, len(got), versions)

	other, _ := replay(versionFactory(7))
	if len(other) != len(want) {
		t.Fatalf("replay with another module: %d records, want %d", len(other), len(want))
	}
	// Same records, same counts (the state of checkpoint from), module v7.
	strip := func(ls []string) []string {
		var out []string
		for _, l := range ls {
			k, v, _ := strings.Cut(l, "=")
			_, rest, _ := strings.Cut(v, ":")
			out = append(out, k+"="+rest)
		}
		sort.Strings(out)
		return out
	}
	for _, l := range other {
		if !strings.Contains(l, "=v7:") {
			t.Fatalf("replay with v7 emitted %q", l)
		}
	}
	if !slices.Equal(strip(other), strip(want)) {
		t.Fatal("replay with v7: not the committed records and counts")
	}

	// Refusals name the reason.
	for _, tc := range []struct {
		req  runtime.ReplayRequest
		want string
	}{
		{runtime.ReplayRequest{Operator: "count", From: 999}, "not retained"},
		{runtime.ReplayRequest{Operator: "nope", From: from}, "no operator"},
	} {
		_, err := runtime.Replay(ctx, job(), runtime.ReplayConfig{Store: store, State: memory.StateFactory{}, WorkDir: t.TempDir(), Modules: mods}, tc.req, func(runtime.ReplayOutput) error { return nil })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("replay %+v: %v, want %q", tc.req, err, tc.want)
		}
	}
}

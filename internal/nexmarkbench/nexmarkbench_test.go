package nexmarkbench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	nexmarksource "github.com/weirstream/weir/plugins/nexmark"
)

func TestOptionErrors(t *testing.T) {
	bad := nexmarksource.DefaultConfig()
	bad.AuctionProportion = 0
	limited := nexmarksource.DefaultConfig()
	limited.RateLimited = true
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"unknown query", Options{Query: "q6", Events: 10}, `unknown nexmark query "q6" (known: q0, q1, q2, q3, q4, q5, q7, q8, q11)`},
		{"no query", Options{Events: 10}, `unknown nexmark query ""`},
		{"no events", Options{Query: "q0"}, "events 0: a benchmark run needs at least 1 event"},
		{"negative parallelism", Options{Query: "q0", Events: 10, Parallelism: -1}, "parallelism -1 is outside 1..128"},
		{"negative interval", Options{Query: "q0", Events: 10, CheckpointInterval: -time.Second}, "checkpoint interval -1s is negative"},
		{"inconsistent generator", Options{Query: "q0", Events: 10, Generator: &bad}, "option auctionProportion: 0 is less than 1; bids need auctions"},
		{"rate limited", Options{Query: "q0", Events: 10, Generator: &limited}, "the generator is rate limited"},
		{"negative state cache", Options{Query: "q4", Events: 10, StateCacheBytes: -1}, "state cache of -1 bytes is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestRunNative runs q2 natively (no Wasm build) and checks what it
// reports: every committed result counted, and collected when asked.
func TestRunNative(t *testing.T) {
	res, err := Run(context.Background(), Options{Query: "q2", Events: 20_000, Native: true, CheckpointInterval: 50 * time.Millisecond, Collect: true, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Results == 0 || int64(len(res.Lines)) != res.Results {
		t.Fatalf("%d results, %d lines", res.Results, len(res.Lines))
	}
	for _, l := range res.Lines {
		auction, _, _ := strings.Cut(l, ",")
		if id, err := strconv.ParseInt(auction, 10, 64); err != nil || id%123 != 0 {
			t.Fatalf("q2 line %q: the auction is not a multiple of 123", l)
		}
	}
	if res.Events != 20_000 || res.EventsPerSec <= 0 || res.PeakRSSBytes <= 0 || res.Elapsed <= 0 || res.Parallelism != DefaultParallelism {
		t.Fatalf("result %+v", res)
	}
}

// TestRunProcess builds cmd/weir-nexmark and runs a small query through it:
// the child's JSON result and its own peak RSS come back.
func TestRunProcess(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "weir-nexmark")
	build := exec.Command("go", "build", "-o", exe, "./cmd/weir-nexmark")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	res, err := RunProcess(context.Background(), exe, Options{Query: "q1", Events: 5_000, Parallelism: 1, CheckpointInterval: time.Second, Native: true}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if res.Query != "q1" || res.Results != 5_000*46/50 || res.PeakRSSBytes < 1<<20 {
		t.Fatalf("result %+v", res)
	}
	// A keyed query with a state cache far smaller than its state: the child
	// takes the option and spills to Pebble.
	res, err = RunProcess(context.Background(), exe, Options{Query: "q4", Events: 20_000, Parallelism: 2, CheckpointInterval: time.Second, Native: true, StateCacheBytes: 64 << 10}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if res.Query != "q4" || res.Results == 0 {
		t.Fatalf("q4 with a 64 KiB state cache: result %+v", res)
	}
	_, err = RunProcess(context.Background(), exe, Options{Query: "q6", Events: 5}, nil)
	if err == nil || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("unknown query in the child: %v", err)
	}
}

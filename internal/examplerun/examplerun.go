package examplerun

import (
	"context"
	"log/slog"
	"testing"

	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/memory"
)

// Run runs job to completion on in-memory state and snapshots, with frequent
// checkpoints, and fails tb if it does not finish.
func Run(tb testing.TB, job *runtime.Job) {
	tb.Helper()
	if job.Checkpoint.Interval == 0 {
		job.Checkpoint.Interval = 20_000_000 // 20ms
	}
	res, err := runtime.Run(context.Background(), job, runtime.Config{
		Store: memory.NewStore(), State: memory.StateFactory{}, WorkDir: tb.TempDir(),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatal(err)
	}
	if !res.Finished {
		tb.Fatalf("the job did not finish: %+v", res)
	}
}

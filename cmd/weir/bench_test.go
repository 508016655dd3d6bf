package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// timeJob runs spec as a `weir run` job of bin in a new directory, with env
// (NAME=value entries) added to the environment, and returns how long it ran:
// from its "job running" line to its exit, so that process start and module
// loading are not counted and the final checkpoint and commit are. The
// connector benchmarks time their jobs with it.
func timeJob(b *testing.B, bin, cache, spec string, env ...string) time.Duration {
	b.Helper()
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), []byte(spec), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := weirRun(bin, dir, cache)
	cmd.Env = append(os.Environ(), env...)
	running, done, stderr := startRun(b, cmd)
	select {
	case err := <-done:
		b.Fatalf("job ended before it ran (%v):\n%s", err, stderr)
	case <-running:
	}
	start := time.Now()
	if err := <-done; err != nil {
		b.Fatalf("job failed: %v\n%s", err, stderr)
	}
	return time.Since(start)
}

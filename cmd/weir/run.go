package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/jobspec"
)

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs)
	fromSavepoint := fs.String("from-savepoint", "", "start from the savepoint in this directory when the data directory holds no checkpoint of the job yet")
	stateCache := fs.String("state-cache", "64MiB", "in-memory state cache per keyed subtask (e.g. 64MiB); the rest spills to Pebble")
	progress := fs.Duration("progress", time.Second, "interval of the progress line on stderr (0: none)")
	cacheDir := fs.String("cache-dir", os.Getenv("WEIR_CACHE_DIR"), "directory of the compiled-module cache, which jobs can share (env WEIR_CACHE_DIR; default: DATA_DIR/cache/wasm)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of the run to this file")
	var memBudget memoryBudgetFlag
	memBudget.register(fs)
	var snaps snapshotFlags
	snaps.register(fs)
	pos, err := parseFlags(fs, args, "JOBSPEC")
	if err != nil {
		return err
	}
	cacheBytes, err := jobspec.ParseSize(*stateCache)
	if err != nil {
		return fmt.Errorf("%w: -state-cache: %v", errUsage, err)
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	budget, err := memBudget.budget()
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	if *cacheDir == "" {
		*cacheDir = layout{dataDir: c.dataDir}.wasmCache()
	}
	job, mods, err := loadJob(ctx, pos[0], *cacheDir, budget, log, stdout)
	if err != nil {
		return err
	}
	defer mods.Close(context.Background())
	if err := checkMemoryBudget(job, budget); err != nil {
		return err
	}
	lay := layout{dataDir: c.dataDir, job: job.Name}
	open, err := snaps.opener(ctx, c.dataDir)
	if err != nil {
		return err
	}
	store, err := open(lay.snapshots())
	if err != nil {
		return err
	}
	cfg := runtime.Config{Store: store, State: stateBackend, WorkDir: lay.work(), StateCacheBytes: cacheBytes, Logger: log}
	if *fromSavepoint != "" {
		sp, err := openStore(*fromSavepoint)
		if err != nil {
			return fmt.Errorf("open savepoint: %w", err)
		}
		if _, err := runtime.ReadManifest(ctx, sp, runtime.SavepointManifest); err != nil {
			return fmt.Errorf("-from-savepoint %s: %w", *fromSavepoint, err)
		}
		if ids, _ := runtime.Checkpoints(ctx, store); len(ids) > 0 {
			log.Warn("the data directory has checkpoints of this job; resuming from the newest instead of the savepoint", "dataDir", c.dataDir, "savepoint", *fromSavepoint)
		}
		cfg.Savepoint = sp
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	x, err := runtime.Start(runCtx, job, cfg)
	if err != nil {
		return err
	}
	// The first Ctrl-C (or SIGTERM) stops gracefully with a final checkpoint; the
	// second stops at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			log.Info("stopping: taking a final checkpoint (interrupt again to stop at once)")
			x.Stop()
		case <-x.Done():
			return
		}
		select {
		case <-sigs:
			log.Warn("stopping at once; the next run resumes from the last complete checkpoint")
			cancel()
		case <-x.Done():
		}
	}()

	start := time.Now()
	p := newProgress(job, x, budget, stderr, *progress)
	p.start()
	res, err := x.Wait()
	p.stop()
	p.summary(res, err, time.Since(start))
	return err
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/weirstream/weir/runtime"
)

func savepointCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("savepoint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs)
	var snaps snapshotFlags
	snaps.register(fs)
	pos, err := parseFlags(fs, args, "JOBSPEC", "DIR")
	if err != nil {
		return err
	}
	name, err := jobName(pos[0])
	if err != nil {
		return err
	}
	lay := layout{dataDir: c.dataDir, job: name}
	open, err := snaps.opener(ctx, c.dataDir)
	if err != nil {
		return err
	}
	store, err := open(lay.snapshots())
	if err != nil {
		return err
	}
	m, err := runtime.LatestCheckpoint(ctx, store)
	if err != nil {
		return fmt.Errorf("job %q in %s: %w", name, c.dataDir, err)
	}
	if entries, err := os.ReadDir(pos[1]); err == nil && len(entries) > 0 {
		return fmt.Errorf("savepoint directory %s is not empty", pos[1])
	}
	dst, err := openStore(pos[1])
	if err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(lay.work(), "savepoint-")
	if err != nil {
		if err := os.MkdirAll(lay.work(), 0o755); err != nil {
			return err
		}
		if scratch, err = os.MkdirTemp(lay.work(), "savepoint-"); err != nil {
			return err
		}
	}
	defer os.RemoveAll(scratch)
	if err := runtime.WriteSavepoint(ctx, m, store, stateBackend, scratch, dst); err != nil {
		return err
	}
	abs, _ := filepath.Abs(pos[1])
	fmt.Fprintf(stdout, "savepoint of job %q checkpoint %d (%s) written to %s\n", name, m.Checkpoint, time.UnixMilli(m.TimeUnixMs).UTC().Format(time.RFC3339), abs)
	return nil
}

func checkpointsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("checkpoints", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs)
	var snaps snapshotFlags
	snaps.register(fs)
	pos, err := parseFlags(fs, args, "JOBSPEC")
	if err != nil {
		return err
	}
	name, err := jobName(pos[0])
	if err != nil {
		return err
	}
	open, err := snaps.opener(ctx, c.dataDir)
	if err != nil {
		return err
	}
	store, err := open(layout{dataDir: c.dataDir, job: name}.snapshots())
	if err != nil {
		return err
	}
	ids, err := runtime.Checkpoints(ctx, store)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		fmt.Fprintf(stdout, "job %q has no checkpoint in %s\n", name, c.dataDir)
		return nil
	}
	fmt.Fprintf(stdout, "%-12s %-24s %-9s %s\n", "CHECKPOINT", "TIME", "FINISHED", "STATUS")
	for _, id := range ids {
		m, err := runtime.ReadManifest(ctx, store, runtime.ManifestObject(id))
		if err != nil {
			fmt.Fprintf(stdout, "%-12d %-24s %-9s %v\n", id, "-", "-", err)
			continue
		}
		fmt.Fprintf(stdout, "%-12d %-24s %-9v ok\n", id, time.UnixMilli(m.TimeUnixMs).UTC().Format(time.RFC3339), m.Finished)
	}
	return nil
}

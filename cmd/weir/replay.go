package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"

	weirv1 "github.com/weirstream/weir/runtime/api/weirv1"
)

// weir replay (docs/rollouts.md#replay): an operator re-run offline from a
// retained checkpoint on the input it journaled after it.

func replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs, true)
	from := fs.Int64("from-checkpoint", 0, "the retained checkpoint whose state the replay starts from (weir job checkpoints JOB lists them)")
	module := fs.String("module", "", "run this module (a file, pushed first, or an uploaded module's name or digest) instead of the job's, and print the differences")
	pos, err := parseFlags(fs, args, "JOB", "OPERATOR")
	if err != nil {
		return err
	}
	if *from <= 0 {
		return fmt.Errorf("%w: --from-checkpoint N is required (a retained checkpoint: weir job checkpoints %s)", errUsage, pos[0])
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	ref := *module
	if ref != "" {
		if ref, err = c.pushIfFile(ctx, ref, stderr); err != nil {
			return err
		}
	}
	stream, err := c.jobs.Replay(ctx, connect.NewRequest(&weirv1.ReplayRequest{Job: pos[0], Operator: pos[1], FromCheckpoint: *from, Module: ref}))
	if err != nil {
		return apiError(err)
	}
	defer stream.Close()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	var sum *weirv1.ReplaySummary
	header := false
	for stream.Receive() {
		ev := stream.Msg()
		if c.flags.output == "json" {
			// NB: one event per line (JSON lines), as they arrive.
			data, err := protojson.Marshal(ev)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintln(stdout, string(data)); err != nil {
				return err
			}
		} else {
			for _, r := range ev.Records {
				// The file sink's keyvalue format: key, a tab, the value.
				if _, err := fmt.Fprintf(stdout, "%s\t%s\n", r.Key, r.Value); err != nil {
					return err
				}
			}
			for _, d := range ev.Diffs {
				if !header {
					fmt.Fprintln(tw, "CHECKPOINT\tSUBTASK\tTRACKING ID\tRECORDED\tREPLAYED")
					header = true
				}
				fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", d.Checkpoint, d.Subtask, strconv.FormatUint(d.TrackingId, 16), replayRecords(d.Recorded), replayRecords(d.Replayed))
			}
		}
		if ev.Summary != nil {
			sum = ev.Summary
		}
	}
	if err := stream.Err(); err != nil {
		return apiError(err)
	}
	tw.Flush()
	if sum == nil {
		return fmt.Errorf("the replay ended without its summary")
	}
	fmt.Fprintf(stderr, "replayed %s from checkpoint %d to %d: %d input records in %d batches, %d emitted\n", pos[1], sum.FromCheckpoint, sum.ToCheckpoint, sum.InputRecords, sum.InputBatches, sum.Emitted)
	if sum.Module != "" {
		fmt.Fprintf(stderr, "with %s: %d input records emit the same, %d differ\n", sum.Module, sum.Matched, sum.Mismatched)
	}
	return nil
}

func replayRecords(rs []*weirv1.ReplayRecord) string {
	if len(rs) == 0 {
		return "(nothing)"
	}
	out := ""
	for i, r := range rs {
		if i > 0 {
			out += " "
		}
		out += quote(r.Key) + "=" + quote(r.Value)
	}
	return out
}

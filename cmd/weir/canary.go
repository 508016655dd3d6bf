package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"connectrpc.com/connect"

	weirv1 "github.com/weirstream/weir/runtime/api/weirv1"
)

// The client side of canaries (docs/rollouts.md): weir job canary.

// defaultCanaryPercent is the share of key groups a canary runs when the
// command names neither a percent nor key groups.
const defaultCanaryPercent = 10

// canaryArgs returns the positional arguments weir job canary wants with the
// flags in args: ID with --status, ID OPERATOR with --rollback, else ID
// OPERATOR FILE|NAME|DIGEST.
func canaryArgs(args []string) []string { return modeArgs(args, "rollback") }

// parseKeyGroups reads a list of key groups and ranges: "0,5,10-19".
func parseKeyGroups(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a {
			return nil, fmt.Errorf("%w: --key-groups %q: %q is not a key group or a range lo-hi", errUsage, s, f)
		}
		for g := a; g <= b; g++ {
			out = append(out, int32(g))
		}
	}
	return out, nil
}

func (c *client) startCanary(ctx context.Context, id, operator, ref string, percent float64, groups string, stdout, stderr io.Writer) error {
	req := &weirv1.StartCanaryRequest{Job: id, Operator: operator, Percent: percent}
	switch {
	case groups != "" && percent != 0:
		return fmt.Errorf("%w: give --percent or --key-groups, not both", errUsage)
	case groups != "":
		kgs, err := parseKeyGroups(groups)
		if err != nil {
			return err
		}
		req.KeyGroups = kgs
	case percent == 0:
		req.Percent = defaultCanaryPercent
	}
	ref, err := c.pushIfFile(ctx, ref, stderr)
	if err != nil {
		return err
	}
	req.Module = ref
	fmt.Fprintf(stderr, "starting a canary of %s on %s of %s: waiting for its checkpoint...\n", ref, operator, id)
	res, err := c.jobs.StartCanary(ctx, connect.NewRequest(req))
	if err != nil {
		return apiError(err)
	}
	return c.print(stdout, res.Msg, func(w *tabwriter.Writer) {
		cn := res.Msg.Canary
		fmt.Fprintf(w, "%s runs %s on %d of %d key groups from checkpoint %d on, %s on the others; promote with weir job promote %s %s, or weir job canary %s %s --rollback\n",
			operator, cn.Module, len(cn.KeyGroups), cn.MaxParallelism, res.Msg.Checkpoint, cn.LiveModule, id, operator, id, operator)
	})
}

func (c *client) rollbackCanary(ctx context.Context, id, operator string, stdout, stderr io.Writer) error {
	fmt.Fprintf(stderr, "rolling back the canary of %s in %s: waiting for the checkpoint...\n", operator, id)
	res, err := c.jobs.RollbackCanary(ctx, connect.NewRequest(&weirv1.RollbackCanaryRequest{Job: id, Operator: operator}))
	if err != nil {
		return apiError(err)
	}
	return c.print(stdout, res.Msg, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "%s runs its live module on every key group from checkpoint %d on\n", operator, res.Msg.Checkpoint)
	})
}

// canaryStatus prints the job's canaries.
func (c *client) canaryStatus(ctx context.Context, id string, stdout io.Writer) error {
	res, err := c.jobs.Get(ctx, connect.NewRequest(&weirv1.GetJobRequest{Id: id}))
	if err != nil {
		return apiError(err)
	}
	msg := &weirv1.Job{Id: res.Msg.Id, Canaries: res.Msg.Canaries}
	return c.print(stdout, msg, func(w *tabwriter.Writer) {
		if len(msg.Canaries) == 0 {
			fmt.Fprintf(w, "job %s runs no canary\n", id)
			return
		}
		fmt.Fprintln(w, "OPERATOR\tCANARY\tLIVE\tKEY GROUPS\tFROM CHECKPOINT")
		for _, cn := range msg.Canaries {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d of %d\t%d\n", cn.Operator, cn.Module, cn.LiveModule, len(cn.KeyGroups), cn.MaxParallelism, cn.FromCheckpoint)
		}
	})
}

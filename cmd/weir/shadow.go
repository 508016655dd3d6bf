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

// The client side of shadows (docs/rollouts.md): weir job shadow, weir job
// promote.

// shadowArgs returns the positional arguments weir job shadow wants with the
// flags in args: ID with --status, ID OPERATOR with --stop, else ID OPERATOR
// FILE|NAME|DIGEST.
func shadowArgs(args []string) []string { return modeArgs(args, "stop") }

// modeArgs returns the positional arguments of a command whose flags in args
// choose its mode: ID with --status, ID OPERATOR with --<end>, else ID
// OPERATOR FILE|NAME|DIGEST.
func modeArgs(args []string, end string) []string {
	for _, a := range args {
		if a == "--" {
			break
		}
		switch strings.TrimLeft(a, "-") {
		case "status", "status=true":
			return []string{"ID"}
		case end, end + "=true":
			return []string{"ID", "OPERATOR"}
		}
	}
	return []string{"ID", "OPERATOR", "FILE|NAME|DIGEST"}
}

func (c *client) startShadow(ctx context.Context, id, operator, ref string, stdout, stderr io.Writer) error {
	ref, err := c.pushIfFile(ctx, ref, stderr)
	if err != nil {
		return err
	}
	res, err := c.jobs.StartShadow(ctx, connect.NewRequest(&weirv1.StartShadowRequest{Job: id, Operator: operator, Module: ref}))
	if err != nil {
		return apiError(err)
	}
	return c.print(stdout, res.Msg, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "%s shadowed by %s; see weir job shadow %s --status\n", operator, res.Msg.Module, id)
	})
}

func (c *client) stopShadow(ctx context.Context, id, operator string, stdout io.Writer) error {
	res, err := c.jobs.StopShadow(ctx, connect.NewRequest(&weirv1.StopShadowRequest{Job: id, Operator: operator}))
	if err != nil {
		return apiError(err)
	}
	return c.print(stdout, res.Msg, func(w *tabwriter.Writer) { shadowCounts(w, []*weirv1.Shadow{res.Msg}) })
}

func (c *client) promote(ctx context.Context, id, operator string, migrate bool, stdout, stderr io.Writer) error {
	fmt.Fprintf(stderr, "promoting the shadow or canary of %s in %s: waiting for the swap's checkpoint...\n", operator, id)
	res, err := c.jobs.Promote(ctx, connect.NewRequest(&weirv1.PromoteRequest{Job: id, Operator: operator, Migrate: migrate}))
	if err != nil {
		return apiError(err)
	}
	return c.print(stdout, res.Msg, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "%s runs %s from checkpoint %d on, on every key group; its shadow or canary is ended\n", operator, res.Msg.Module, res.Msg.Checkpoint)
	})
}

// shadowStatus prints the job's shadows with their newest differences.
func (c *client) shadowStatus(ctx context.Context, id string, stdout io.Writer) error {
	res, err := c.jobs.Get(ctx, connect.NewRequest(&weirv1.GetJobRequest{Id: id}))
	if err != nil {
		return apiError(err)
	}
	msg := &weirv1.Job{Id: res.Msg.Id, Shadows: res.Msg.Shadows}
	return c.print(stdout, msg, func(w *tabwriter.Writer) {
		if len(msg.Shadows) == 0 {
			fmt.Fprintf(w, "job %s runs no shadow\n", id)
			return
		}
		shadowCounts(w, msg.Shadows)
		for _, sh := range msg.Shadows {
			if len(sh.Diffs) == 0 {
				continue
			}
			fmt.Fprintf(w, "\nnewest differences of %s (%d):\n", sh.Operator, len(sh.Diffs))
			fmt.Fprintln(w, "SUBTASK\tKEY\tINPUT\tLIVE\tSHADOW")
			for _, d := range sh.Diffs {
				shadow := records(d.Shadow)
				if d.Error != "" {
					shadow = "error: " + d.Error
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", d.Subtask, quote(d.Key), quote(d.Input), records(d.Live), shadow)
			}
		}
	})
}

func shadowCounts(w *tabwriter.Writer, shadows []*weirv1.Shadow) {
	fmt.Fprintln(w, "SHADOW OF\tMODULE\tRECORDS\tMATCHED\tMISMATCHED\tFAILED\tSUSPENDED")
	for _, sh := range shadows {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", sh.Operator, sh.Module, sh.Records, sh.Matched, sh.Mismatched, sh.Failed, sh.Suspended)
		if sh.LastError != "" {
			fmt.Fprintf(w, "  last error:\t%s\n", sh.LastError)
		}
	}
}

// records renders emitted records as key=value, port-prefixed off the main output.
func records(rs []*weirv1.ShadowRecord) string {
	if len(rs) == 0 {
		return "(none)"
	}
	var parts []string
	for _, r := range rs {
		p := ""
		if r.Port != 0 {
			p = strconv.Itoa(int(r.Port)) + ":"
		}
		parts = append(parts, p+quote(r.Key)+"="+quote(r.Value))
	}
	return strings.Join(parts, " ")
}

func quote(b []byte) string {
	q := strconv.Quote(string(b))
	return q[1 : len(q)-1]
}

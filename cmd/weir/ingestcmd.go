package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"

	"connectrpc.com/connect"
	weirnats "github.com/weirstream/weir/plugins/nats"
	weirv1 "github.com/weirstream/weir/runtime/api/weirv1"
	"go.yaml.in/yaml/v3"
)

// ingestCmd is `weir ingest`: the statuses of HTTP ingest requests
// (weirnats.IngestStatusPath), the retry of their failed records, and the
// replay of a whole request (weirnats.IngestReplayPath).
func ingestCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const subs = "status, retry, replay"
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: %s", errUsage, subs)
	}
	fs := flag.NewFlagSet("ingest "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs, false)
	var job, note, key *string
	switch args[0] {
	case "status":
	case "replay":
		key = fs.String("idempotency-key", "", "the new request's Idempotency-Key (repeat a replay that got no answer with the same key)")
	case "retry":
		job = fs.String("job", "", "the job whose failed records to resubmit (needed when several jobs read the endpoint)")
		note = fs.String("note", "", "note for the DLQ's audit trail")
	default:
		return fmt.Errorf("%w: unknown subcommand ingest %q (want %s)", errUsage, args[0], subs)
	}
	pos, err := parseFlags(fs, args[1:], "ENDPOINT", "SEQUENCE")
	if err != nil {
		return err
	}
	seq, err := strconv.ParseUint(pos[1], 10, 64)
	if err != nil || seq == 0 {
		return fmt.Errorf("%w: SEQUENCE %q: want the sequence (a number from 1) that the request's 202 answered", errUsage, pos[1])
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	if args[0] == "replay" {
		return c.ingestReplay(ctx, stdout, pos[0], seq, *key)
	}
	st, err := c.ingestStatus(ctx, pos[0], seq)
	if err != nil {
		return err
	}
	if args[0] == "status" {
		return printIngestStatus(stdout, cf.output, st)
	}
	var target *weirnats.IngestStatus
	for i, j := range st.Jobs {
		if *job == "" || j.Job == *job {
			if target != nil {
				return fmt.Errorf("%w: jobs %s and %s read endpoint %s: choose one with --job", errUsage, target.Job, j.Job, pos[0])
			}
			target = &st.Jobs[i]
		}
	}
	switch {
	case target == nil && *job != "":
		return &clientError{exitNotFound, fmt.Errorf("job %s keeps no statuses of endpoint %s", *job, pos[0])}
	case target == nil:
		return &clientError{exitNotFound, fmt.Errorf("no job keeps statuses of endpoint %s (ack target kind ingest)", pos[0])}
	case target.Status != weirnats.StatusNacked:
		return &clientError{exitRefused, fmt.Errorf("request %d is %s in job %s: only a NACKed request has failed records to retry", seq, target.Status, target.Job)}
	}
	var ids []int64
	for _, f := range target.Failed {
		ids = append(ids, f.DLQ)
	}
	res, err := c.dlq().Resubmit(ctx, connect.NewRequest(&weirv1.ResubmitDeadLettersRequest{Job: target.Job, Ids: ids,
		Note: strings.TrimSpace(fmt.Sprintf("retry of ingest request %s/%d (%s) %s", pos[0], seq, st.ID, *note))}))
	if err != nil {
		return apiError(err)
	}
	return c.print(stdout, res.Msg, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "%d failed %s of request %d resubmitted in job %s (checkpoint %d)\n", len(res.Msg.Ids), plural(len(res.Msg.Ids), "record", "records"), seq, target.Job, res.Msg.Checkpoint)
	})
}

// ingestReplay POSTs the replay of request seq of endpoint and prints the
// new request's 202 answer.
func (c *client) ingestReplay(ctx context.Context, stdout io.Writer, endpoint string, seq uint64, key string) error {
	body, err := c.ingestCall(ctx, http.MethodPost, fmt.Sprintf("/v1/ingest/%s/requests/%d/replay", endpoint, seq), key, http.StatusAccepted)
	if err != nil {
		return err
	}
	if c.flags.output != "table" {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return &clientError{exitFail, fmt.Errorf("the server's answer: %w", err)}
		}
		return printJSON(stdout, c.flags.output, v)
	}
	var a struct {
		ID       string `json:"id"`
		Records  int    `json:"records"`
		Sequence uint64 `json:"sequence"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return &clientError{exitFail, fmt.Errorf("the server's answer: %w", err)}
	}
	_, err = fmt.Fprintf(stdout, "request %d replayed as request %s: sequence %d, %d %s (status: weir ingest status %s %d)\n",
		seq, a.ID, a.Sequence, a.Records, plural(a.Records, "record", "records"), endpoint, a.Sequence)
	return err
}

// ingestStatus GETs the status of request seq of endpoint.
func (c *client) ingestStatus(ctx context.Context, endpoint string, seq uint64) (*weirnats.IngestRequestStatus, error) {
	body, err := c.ingestCall(ctx, http.MethodGet, fmt.Sprintf("/v1/ingest/%s/requests/%d", endpoint, seq), "", http.StatusOK)
	if err != nil {
		return nil, err
	}
	var st weirnats.IngestRequestStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, &clientError{exitFail, fmt.Errorf("the server's answer: %w", err)}
	}
	return &st, nil
}

// ingestCall sends a bodiless request to one of the server's ingest routes
// and returns the body of an answer with status want.
func (c *client) ingestCall(ctx context.Context, method, path, key string, want int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, &clientError{exitUnreachable, fmt.Errorf("cannot reach the server: %w", err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, &clientError{exitUnreachable, err}
	}
	msg := strings.TrimSpace(string(body))
	switch resp.StatusCode {
	case want:
		return body, nil
	case http.StatusNotFound:
		return nil, &clientError{exitNotFound, errors.New(msg)}
	case http.StatusUnauthorized:
		return nil, &clientError{exitAuth, errors.New("the server wants a bearer token: set WEIR_TOKEN or --token-file")}
	case http.StatusBadRequest:
		return nil, &clientError{exitRefused, errors.New(msg)}
	case http.StatusServiceUnavailable:
		return nil, &clientError{exitUnreachable, fmt.Errorf("%s: %s", resp.Status, msg)}
	}
	return nil, &clientError{exitFail, fmt.Errorf("%s: %s", resp.Status, msg)}
}

// printJSON writes v as indented JSON or as YAML.
func printJSON(w io.Writer, output string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if output == "yaml" {
		var y any
		if err := json.Unmarshal(data, &y); err != nil {
			return err
		}
		if data, err = yaml.Marshal(y); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintln(w, strings.TrimSuffix(string(data), "\n"))
	return err
}

func printIngestStatus(w io.Writer, output string, st *weirnats.IngestRequestStatus) error {
	if output != "table" {
		return printJSON(w, output, st)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "request:\t%s (sequence %d of endpoint %s, %d %s)\n", st.ID, st.Sequence, st.Endpoint, st.Records, plural(st.Records, "record", "records"))
	if len(st.Jobs) == 0 {
		fmt.Fprintln(tw, "status:\tno job has delivered statuses of this endpoint yet (a job with acks kind ingest delivers them at its checkpoints)")
	}
	for _, j := range st.Jobs {
		fmt.Fprintf(tw, "job %s:\t%s\n", j.Job, j.Status)
		for _, f := range j.Failed {
			fmt.Fprintf(tw, "  record %d:\tDLQ entry %d, operator %s: %s\n", f.Record, f.DLQ, f.Operator, cut(firstLine(f.Error)))
		}
		if j.Status == weirnats.StatusNacked {
			fmt.Fprintf(tw, "  retry:\tweir ingest retry %s %d --job %s\n", st.Endpoint, st.Sequence, j.Job)
		}
	}
	return tw.Flush()
}

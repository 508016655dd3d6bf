package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	weirv1 "github.com/weirstream/weir/runtime/api/weirv1"
	"github.com/weirstream/weir/runtime/api/weirv1/weirv1connect"
)

// Exit codes of the client commands, beyond exitOK, exitFail and exitUsage.
const (
	exitNotFound    = 3 // the module, job or operator does not exist
	exitRefused     = 4 // the server refused the request: invalid, or not now
	exitUnreachable = 5 // no answer from the server
	exitAuth        = 6 // missing or wrong token
)

// clientError carries the exit code of a failed API call.
type clientError struct {
	code int
	err  error
}

func (e *clientError) Error() string { return e.err.Error() }
func (e *clientError) Unwrap() error { return e.err }

// apiError turns a Connect error into a clientError with its exit code.
func apiError(err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return &clientError{exitUnreachable, err}
	}
	msg := ce.Message()
	switch ce.Code() {
	case connect.CodeNotFound:
		return &clientError{exitNotFound, errors.New(msg)}
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeResourceExhausted, connect.CodeAlreadyExists:
		return &clientError{exitRefused, errors.New(msg)}
	case connect.CodeUnauthenticated:
		return &clientError{exitAuth, errors.New("the server wants a bearer token: set WEIR_TOKEN or --token-file")}
	case connect.CodeUnavailable, connect.CodeUnknown:
		if strings.Contains(msg, "401") || strings.Contains(strings.ToLower(msg), "unauthorized") {
			return &clientError{exitAuth, errors.New("the server refused the bearer token (HTTP 401): set WEIR_TOKEN or --token-file")}
		}
		return &clientError{exitUnreachable, fmt.Errorf("cannot reach the server: %s", msg)}
	}
	return &clientError{exitFail, errors.New(msg)}
}

// clientFlags are the flags of every client command.
type clientFlags struct {
	server    string
	tokenFile string
	output    string
	noWait    bool
}

func (c *clientFlags) register(fs *flag.FlagSet, long bool) {
	fs.StringVar(&c.server, "server", envOr("WEIR_SERVER", "http://127.0.0.1:8181"), "URL of the weir server (env WEIR_SERVER)")
	fs.StringVar(&c.tokenFile, "token-file", "", "file with the bearer token (env WEIR_TOKEN holds the token itself)")
	fs.StringVar(&c.output, "o", "table", "output format: table, json or yaml")
	if long {
		fs.BoolVar(&c.noWait, "no-wait", false, "return once the server accepted the request, without waiting for it to complete")
	}
}

type client struct {
	modules   weirv1connect.ModuleServiceClient
	jobs      weirv1connect.JobServiceClient
	dlqClient weirv1connect.DLQServiceClient
	flags     clientFlags
	// hc and base reach the server's plain HTTP routes (ingest).
	hc   *http.Client
	base string
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// h2cTransport speaks HTTP/2 without TLS to http:// URLs.
func h2cTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	t.Protocols = &p
	return t
}

func (c clientFlags) client() (*client, error) {
	switch c.output {
	case "table", "json", "yaml":
	default:
		return nil, fmt.Errorf("%w: -o %q: want table, json or yaml", errUsage, c.output)
	}
	if !strings.HasPrefix(c.server, "http://") && !strings.HasPrefix(c.server, "https://") {
		return nil, fmt.Errorf("%w: -server %q: want an http:// or https:// URL", errUsage, c.server)
	}
	token, err := readToken(c.tokenFile)
	if err != nil {
		return nil, err
	}
	var rt http.RoundTripper = http.DefaultTransport
	if strings.HasPrefix(c.server, "http://") {
		// NB: HTTP/2 without TLS (prior knowledge), not HTTP/1.1: a server that
		// refuses an upload mid-stream answers and resets the stream, and the
		// client reads the answer; over HTTP/1.1 it has to close the connection,
		// and the client may see only the broken connection, not the reason.
		rt = h2cTransport()
	}
	if token != "" {
		rt = bearer{token, rt}
	}
	hc := &http.Client{Transport: rt}
	base := strings.TrimRight(c.server, "/")
	return &client{modules: weirv1connect.NewModuleServiceClient(hc, base), jobs: weirv1connect.NewJobServiceClient(hc, base),
		dlqClient: weirv1connect.NewDLQServiceClient(hc, base), flags: c, hc: hc, base: base}, nil
}

// print writes msg in the chosen format; table prints with table.
func (c *client) print(w io.Writer, msg proto.Message, table func(w *tabwriter.Writer)) error {
	switch c.flags.output {
	case "json", "yaml":
		data, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", EmitUnpopulated: true}.Marshal(msg)
		if err != nil {
			return err
		}
		if c.flags.output == "json" {
			_, err = fmt.Fprintln(w, string(data))
			return err
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		out, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

func moduleCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: push, ls, get, rm", errUsage)
	}
	fs := flag.NewFlagSet("module "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs, false)
	switch args[0] {
	case "push":
		name := fs.String("name", "", "name of the module (default: the file name without .wasm)")
		pos, err := parseFlags(fs, args[1:], "FILE")
		if err != nil {
			return err
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		m, err := c.push(ctx, pos[0], *name, stderr)
		if err != nil {
			return err
		}
		return c.print(stdout, m, func(w *tabwriter.Writer) { fmt.Fprintf(w, "%s\t%s\n", m.Names[len(m.Names)-1], m.Digest) })
	case "ls", "list":
		if _, err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		res, err := c.modules.List(ctx, connect.NewRequest(&weirv1.ListModulesRequest{}))
		if err != nil {
			return apiError(err)
		}
		return c.print(stdout, res.Msg, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "NAMES\tDIGEST\tSIZE\tABI\tCREATED\tUSED BY")
			for _, m := range res.Msg.Modules {
				fmt.Fprintf(w, "%s\t%s\t%d\tv%d\t%s\t%s\n", strings.Join(m.Names, ","), m.Digest, m.SizeBytes, m.AbiVersion, unixMs(m.CreatedUnixMs), strings.Join(m.UsedBy, ","))
			}
		})
	case "get", "rm", "delete":
		pos, err := parseFlags(fs, args[1:], "NAME|DIGEST")
		if err != nil {
			return err
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		if args[0] != "get" {
			if _, err := c.modules.Delete(ctx, connect.NewRequest(&weirv1.DeleteModuleRequest{Module: pos[0]})); err != nil {
				return apiError(err)
			}
			fmt.Fprintf(stderr, "module %s deleted\n", pos[0])
			return nil
		}
		res, err := c.modules.Get(ctx, connect.NewRequest(&weirv1.GetModuleRequest{Module: pos[0]}))
		if err != nil {
			return apiError(err)
		}
		m := res.Msg
		return c.print(stdout, m, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "digest:\t%s\nnames:\t%s\nsize:\t%d bytes\nabi:\tv%d\ncreated:\t%s\nused by:\t%s\n", m.Digest, strings.Join(m.Names, ", "), m.SizeBytes, m.AbiVersion, unixMs(m.CreatedUnixMs), strings.Join(m.UsedBy, ", "))
		})
	}
	return fmt.Errorf("%w: unknown subcommand module %q (want push, ls, get, rm)", errUsage, args[0])
}

// uploadChunkBytes is the size of the chunks an upload streams.
const uploadChunkBytes = 256 << 10

// maxJobsPage is the page size `job ls` asks for: the server's largest.
const maxJobsPage = 1000

// push uploads the module file at path, printing progress to stderr.
func (c *client) push(ctx context.Context, path, name string, stderr io.Writer) (*weirv1.Module, error) {
	if name == "" {
		base := path[strings.LastIndexByte(path, '/')+1:]
		name = strings.ToLower(strings.TrimSuffix(base, ".wasm"))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	stream := c.modules.Upload(ctx)
	if err := stream.Send(&weirv1.UploadRequest{Part: &weirv1.UploadRequest_Header{Header: &weirv1.UploadHeader{Name: name, SizeBytes: st.Size()}}}); err != nil && !errors.Is(err, io.EOF) {
		return nil, apiError(err)
	}
	buf := make([]byte, uploadChunkBytes)
	var sent int64
	last := time.Now()
	for {
		n, rerr := f.Read(buf)
		if n > 0 {
			if err := stream.Send(&weirv1.UploadRequest{Part: &weirv1.UploadRequest_Chunk{Chunk: buf[:n]}}); err != nil {
				break // the server ended the stream: CloseAndReceive says why
			}
			sent += int64(n)
			if time.Since(last) > 500*time.Millisecond {
				fmt.Fprintf(stderr, "uploading %s: %d/%d bytes\n", name, sent, st.Size())
				last = time.Now()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, rerr
		}
	}
	res, err := stream.CloseAndReceive()
	if err != nil {
		return nil, apiError(err)
	}
	verb := "stored"
	if !res.Msg.Created {
		verb = "already stored"
	}
	fmt.Fprintf(stderr, "module %s %s (%d bytes, %s)\n", name, verb, st.Size(), res.Msg.Module.Digest)
	return res.Msg.Module, nil
}

func jobCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: submit, ls, get, cancel, savepoint, rescale, swap, shadow, canary, promote, checkpoints", errUsage)
	}
	fs := flag.NewFlagSet("job "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	long := args[0] == "swap" || args[0] == "rescale" || args[0] == "promote" || args[0] == "canary"
	cf.register(fs, long)
	var pos []string
	var err error
	var withSavepoint, migrate, stop, status, rollback *bool
	var percent *float64
	var keyGroups *string
	switch args[0] {
	case "submit":
		pos, err = parseFlags(fs, args[1:], "SPEC")
	case "ls", "list":
		pos, err = parseFlags(fs, args[1:])
	case "get", "savepoint", "checkpoints":
		pos, err = parseFlags(fs, args[1:], "ID")
	case "cancel":
		withSavepoint = fs.Bool("savepoint", false, "take a final savepoint before the job stops")
		pos, err = parseFlags(fs, args[1:], "ID")
	case "rescale":
		pos, err = parseFlags(fs, args[1:], "ID", "PARALLELISM")
	case "swap":
		migrate = fs.Bool("migrate", false, "run the new module's migrate step before it takes over")
		pos, err = parseFlags(fs, args[1:], "ID", "OPERATOR", "FILE|NAME|DIGEST")
	case "shadow":
		stop = fs.Bool("stop", false, "drop the operator's shadow (weir job shadow ID OPERATOR --stop)")
		status = fs.Bool("status", false, "show the job's shadows: counts and the newest differing records (weir job shadow ID --status)")
		pos, err = parseFlags(fs, args[1:], shadowArgs(args[1:])...)
	case "canary":
		percent = fs.Float64("percent", 0, "the share of the job's key groups the canary runs, spread evenly (default 10 unless --key-groups)")
		keyGroups = fs.String("key-groups", "", "the key groups the canary runs, e.g. 0,5,10-19 (instead of --percent)")
		rollback = fs.Bool("rollback", false, "end the operator's canary: the live module runs every key group again (weir job canary ID OPERATOR --rollback)")
		status = fs.Bool("status", false, "show the job's canaries (weir job canary ID --status)")
		pos, err = parseFlags(fs, args[1:], canaryArgs(args[1:])...)
	case "promote":
		migrate = fs.Bool("migrate", false, "run the new module's migrate step before it takes over")
		pos, err = parseFlags(fs, args[1:], "ID", "OPERATOR")
	default:
		return fmt.Errorf("%w: unknown subcommand job %q (want submit, ls, get, cancel, savepoint, rescale, swap, shadow, canary, promote, checkpoints)", errUsage, args[0])
	}
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	switch args[0] {
	case "submit":
		spec, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		res, err := c.jobs.Submit(ctx, connect.NewRequest(&weirv1.SubmitJobRequest{Spec: string(spec)}))
		if err != nil {
			return apiError(err)
		}
		return c.print(stdout, res.Msg, func(w *tabwriter.Writer) { fmt.Fprintln(w, res.Msg.Id) })
	case "ls", "list":
		// Every job: the pages one after the other.
		all := &weirv1.ListJobsResponse{}
		for token := ""; ; {
			res, err := c.jobs.List(ctx, connect.NewRequest(&weirv1.ListJobsRequest{PageSize: maxJobsPage, PageToken: token}))
			if err != nil {
				return apiError(err)
			}
			all.Jobs, all.Matching = append(all.Jobs, res.Msg.Jobs...), res.Msg.Matching
			if token = res.Msg.NextPageToken; token == "" {
				break
			}
		}
		return c.print(stdout, all, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "ID\tNAME\tSTATE\tCHECKPOINT\tRESTARTS\tSUBMITTED")
			for _, j := range all.Jobs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\n", j.Id, j.Name, stateName(j.State), j.LastCheckpoint, j.Restarts, unixMs(j.SubmittedUnixMs))
			}
		})
	case "get":
		res, err := c.jobs.Get(ctx, connect.NewRequest(&weirv1.GetJobRequest{Id: pos[0]}))
		if err != nil {
			return apiError(err)
		}
		return c.print(stdout, res.Msg, func(w *tabwriter.Writer) { jobTable(w, res.Msg) })
	case "checkpoints":
		return c.checkpoints(ctx, pos[0], stdout)
	case "cancel":
		if *withSavepoint {
			fmt.Fprintf(stderr, "cancelling %s: taking a final savepoint...\n", pos[0])
		}
		res, err := c.jobs.Cancel(ctx, connect.NewRequest(&weirv1.CancelJobRequest{Id: pos[0], Savepoint: *withSavepoint}))
		if err != nil {
			return apiError(err)
		}
		return c.print(stdout, res.Msg, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "%s\t%s\n", res.Msg.Job.Id, stateName(res.Msg.Job.State))
			if sp := res.Msg.Savepoint; sp != nil {
				fmt.Fprintf(w, "savepoint\t%s (checkpoint %d)\n", sp.Id, sp.Checkpoint)
			}
		})
	case "savepoint":
		fmt.Fprintf(stderr, "savepoint of %s: waiting for a checkpoint...\n", pos[0])
		res, err := c.jobs.TriggerSavepoint(ctx, connect.NewRequest(&weirv1.TriggerSavepointRequest{Id: pos[0]}))
		if err != nil {
			return apiError(err)
		}
		return c.print(stdout, res.Msg, func(w *tabwriter.Writer) { fmt.Fprintf(w, "%s\tcheckpoint %d\n", res.Msg.Id, res.Msg.Checkpoint) })
	case "rescale":
		p, err := strconv.Atoi(pos[1])
		if err != nil || p < 1 {
			return fmt.Errorf("%w: PARALLELISM %q: want a whole number >= 1", errUsage, pos[1])
		}
		if !cf.noWait {
			fmt.Fprintf(stderr, "rescaling %s to %d: final checkpoint, then restore...\n", pos[0], p)
		}
		res, err := c.jobs.Rescale(ctx, connect.NewRequest(&weirv1.RescaleJobRequest{Id: pos[0], Parallelism: int32(p), NoWait: cf.noWait}))
		if err != nil {
			return apiError(err)
		}
		return c.print(stdout, res.Msg, func(w *tabwriter.Writer) { jobTable(w, res.Msg) })
	case "swap":
		return c.swap(ctx, pos[0], pos[1], pos[2], *migrate, stdout, stderr)
	case "shadow":
		switch {
		case *status:
			return c.shadowStatus(ctx, pos[0], stdout)
		case *stop:
			return c.stopShadow(ctx, pos[0], pos[1], stdout)
		}
		return c.startShadow(ctx, pos[0], pos[1], pos[2], stdout, stderr)
	case "canary":
		switch {
		case *status:
			return c.canaryStatus(ctx, pos[0], stdout)
		case *rollback:
			return c.rollbackCanary(ctx, pos[0], pos[1], stdout, stderr)
		}
		return c.startCanary(ctx, pos[0], pos[1], pos[2], *percent, *keyGroups, stdout, stderr)
	case "promote":
		return c.promote(ctx, pos[0], pos[1], *migrate, stdout, stderr)
	}
	return nil
}

// swap swaps to a module reference, pushing it first when it is a file.
func (c *client) swap(ctx context.Context, id, operator, ref string, migrate bool, stdout, stderr io.Writer) error {
	ref, err := c.pushIfFile(ctx, ref, stderr)
	if err != nil {
		return err
	}
	if !c.flags.noWait {
		fmt.Fprintf(stderr, "swapping %s of %s to %s: waiting for the swap's checkpoint...\n", operator, id, ref)
	}
	res, err := c.jobs.SwapModule(ctx, connect.NewRequest(&weirv1.SwapModuleRequest{Job: id, Operator: operator, Module: ref, Migrate: migrate, NoWait: c.flags.noWait}))
	if err != nil {
		return apiError(err)
	}
	return c.print(stdout, res.Msg, func(w *tabwriter.Writer) {
		if res.Msg.Checkpoint == 0 {
			fmt.Fprintf(w, "swap of %s to %s requested\n", operator, res.Msg.Module)
			return
		}
		fmt.Fprintf(w, "%s runs %s from checkpoint %d on\n", operator, res.Msg.Module, res.Msg.Checkpoint)
	})
}

// pushIfFile pushes ref when it names a file and returns its digest;
// otherwise it returns ref (a module name or digest).
func (c *client) pushIfFile(ctx context.Context, ref string, stderr io.Writer) (string, error) {
	if st, err := os.Stat(ref); err == nil && !st.IsDir() {
		m, err := c.push(ctx, ref, "", stderr)
		if err != nil {
			return "", err
		}
		return m.Digest, nil
	}
	return ref, nil
}

func (c *client) checkpoints(ctx context.Context, id string, stdout io.Writer) error {
	res, err := c.jobs.ListCheckpoints(ctx, connect.NewRequest(&weirv1.ListCheckpointsRequest{Id: id}))
	if err != nil {
		return apiError(err)
	}
	return c.print(stdout, res.Msg, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "CHECKPOINT\tTIME\tDURATION\tSTATE BYTES\tINCREMENTAL BYTES\tALIGNMENT\tFINISHED\tMODULES")
		for _, cp := range res.Msg.Checkpoints {
			var mods []string
			for op, m := range cp.Modules {
				mods = append(mods, op+"="+shortDigest(m))
			}
			sort.Strings(mods)
			dur, align, incr := "-", "-", "-"
			if cp.DurationMs > 0 {
				dur, align = fmt.Sprintf("%d ms", cp.DurationMs), fmt.Sprintf("%d ms", cp.AlignmentMs)
			}
			if cp.IncrementalBytes != nil {
				incr = strconv.FormatInt(*cp.IncrementalBytes, 10)
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\t%v\t%s\n", cp.Id, unixMs(cp.TimeUnixMs), dur, cp.StateBytes, incr, align, cp.Finished, strings.Join(mods, " "))
		}
		if len(res.Msg.Failures) > 0 {
			fmt.Fprintln(w, "\nFAILED CHECKPOINT\tTIME\tAFTER\tERROR")
			for _, f := range res.Msg.Failures {
				fmt.Fprintf(w, "%d\t%s\t%d ms\t%s\n", f.Id, unixMs(f.TimeUnixMs), f.DurationMs, f.Error)
			}
		}
	})
}

func jobTable(w *tabwriter.Writer, j *weirv1.Job) {
	fmt.Fprintf(w, "id:\t%s\nname:\t%s\nstate:\t%s\n", j.Id, j.Name, stateName(j.State))
	if j.Error != "" {
		fmt.Fprintf(w, "error:\t%s\n", j.Error)
	}
	fmt.Fprintf(w, "submitted:\t%s\nlast checkpoint:\t%d (%s)\nrestarts:\t%d\n\n", unixMs(j.SubmittedUnixMs), j.LastCheckpoint, unixMs(j.LastCheckpointUnixMs), j.Restarts)
	fmt.Fprintln(w, "NODE\tKIND\tPARALLELISM\tRECORDS\tRECORDS/S\tMODULE")
	for _, n := range j.Nodes {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%.0f\t%s\n", n.Name, n.Kind, n.Parallelism, n.Records, n.RecordsPerSecond, n.Module)
	}
	if len(j.ModuleHistory) > 0 {
		fmt.Fprintln(w, "\nOPERATOR\tFROM CHECKPOINT\tMODULE\tCANARY")
		for _, h := range j.ModuleHistory {
			canary := "-"
			if h.CanaryModule != "" {
				canary = fmt.Sprintf("%s on %d key groups", h.CanaryModule, len(h.CanaryKeyGroups))
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", h.Operator, h.FromCheckpoint, h.Module, canary)
		}
	}
	if len(j.Shadows) > 0 {
		fmt.Fprintln(w)
		shadowCounts(w, j.Shadows)
	}
}

func stateName(s weirv1.JobState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "JOB_STATE_"))
}

func unixMs(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(weirMain(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the job or the command failed
	exitUsage = 2 // bad command line
)

const usage = `weir — a stream processor whose operators are WebAssembly modules

Usage: weir COMMAND [flags] [arguments]

Local runs:
  weir run [flags] JOBSPEC             run a job in this process (Ctrl-C stops it with a final checkpoint)
  weir savepoint [flags] JOBSPEC DIR   write a portable savepoint of the job's newest checkpoint to DIR
  weir checkpoints [flags] JOBSPEC     list the job's checkpoints (a job spec file: local; a job id: on the server)

Server:
  weir server [flags]                  serve the API (Connect, gRPC, gRPC-Web) and run submitted jobs
  weir jobmanager --nats URL [flags]   the same, as one of several JobManagers: serves only while elected leader

Client (--server URL or WEIR_SERVER, default http://127.0.0.1:8181; token: WEIR_TOKEN or --token-file; -o table|json|yaml):
  weir module push FILE [--name N]     upload a module (validated before it is stored)
  weir module ls | get REF | rm REF    list, show or delete modules (REF: a name or sha256:<hex>)
  weir job submit SPEC                 submit a job spec whose operators name uploaded modules
  weir job ls | get ID                 list jobs, show one (state, nodes, checkpoint, module history)
  weir job cancel ID [--savepoint]     stop a job for good (after a final savepoint)
  weir job savepoint ID                take a savepoint now
  weir job rescale ID N [--no-wait]    restart the job at parallelism N from a final checkpoint
  weir job swap ID OPERATOR FILE|REF [--migrate] [--no-wait]
                                       hot-swap an operator's module at a checkpoint barrier
  weir job shadow ID OPERATOR FILE|REF run a second module beside the live one and compare outputs
  weir job shadow ID --status          show shadows: match/mismatch counts, newest differing records
  weir job shadow ID OPERATOR --stop   drop the operator's shadow
  weir job canary ID OPERATOR FILE|REF [--percent 10 | --key-groups 0,5-9]
                                       run another module for real on a share of the key groups
  weir job canary ID OPERATOR --rollback
                                       the live module runs every key group again, from a barrier on
  weir job canary ID --status          show canaries: module, key groups, from which checkpoint
  weir job promote ID OPERATOR [--migrate]
                                       swap the operator to its shadow's or canary's module at a barrier (docs/rollouts.md)
  weir job checkpoints ID              list the job's checkpoints
  weir dlq ls JOB [--operator OP] [--filter TEXT]
                                       list a job's dead-letter queue (docs/dlq.md)
  weir dlq get JOB ID                  show one entry: record, error, source position
  weir dlq edit JOB ID --value S|--value-file F
                                       replace an entry's value
  weir dlq resubmit JOB ID[,ID...]|--all|--filter TEXT
                                       hand entries back to their operator, exactly once
  weir dlq drop JOB ID[,ID...]|--all|--filter TEXT
                                       remove entries for good
  weir dlq audit JOB                   list every change of the DLQ
  weir ingest status ENDPOINT SEQUENCE show what became of an HTTP ingest request (its 202 gave
                                       the sequence): acked, nacked with its failed records, or pending
  weir ingest retry ENDPOINT SEQUENCE  resubmit a NACKed request's failed records from the DLQ (docs/acks.md)
  weir ingest replay ENDPOINT SEQUENCE ingest a stored request again, all its records, as a new request
  weir replay JOB OPERATOR --from-checkpoint N [--module FILE|REF]
                                       re-run an operator offline on its journaled input (journal: true):
                                       print its output, or with --module the differences (docs/rollouts.md)

  weir version                         print the version

Exit codes: 0 ok, 1 failed, 2 bad command line, 3 not found, 4 refused by the server
(invalid or not now), 5 server unreachable, 6 missing or wrong token.

Run 'weir COMMAND -h' for the flags of a command. The job spec format is in docs/jobspec.md.
`

// errUsage marks errors that come from a bad command line.
var errUsage = errors.New("usage")

func weirMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "run":
		err = runCmd(ctx, args[1:], stdout, stderr)
	case "savepoint":
		err = savepointCmd(ctx, args[1:], stdout, stderr)
	case "checkpoints":
		if isJobID(args[1:]) {
			err = jobCmd(ctx, args, stdout, stderr)
		} else {
			err = checkpointsCmd(ctx, args[1:], stdout, stderr)
		}
	case "server":
		err = serverCmd(ctx, args[1:], stdout, stderr)
	case "jobmanager":
		err = jobmanagerCmd(ctx, args[1:], stdout, stderr)
	case "module", "modules":
		err = moduleCmd(ctx, args[1:], stdout, stderr)
	case "job", "jobs":
		err = jobCmd(ctx, args[1:], stdout, stderr)
	case "dlq":
		err = dlqCmd(ctx, args[1:], stdout, stderr)
	case "ingest":
		err = ingestCmd(ctx, args[1:], stdout, stderr)
	case "replay":
		err = replayCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "weir", version)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "weir: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	var ce *clientError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "weir %s: %v\n", args[0], err)
		return ce.code
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "weir %s: %v\n", args[0], strings.TrimPrefix(err.Error(), "usage: "))
		return exitUsage
	default:
		fmt.Fprintf(stderr, "weir %s: %v\n", args[0], err)
		return exitFail
	}
}

// commonFlags are the flags every command that touches a job has.
type commonFlags struct {
	dataDir   string
	logFormat string
	logLevel  string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", envOr("WEIR_DATA_DIR", ".weir"), "directory for checkpoints, state and the module cache (env WEIR_DATA_DIR)")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

func (c *commonFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("%w: -log-level %q: want debug, info, warn or error", errUsage, c.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: -log-format %q: want text or json", errUsage, c.logFormat)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseFlags parses args with fs and checks the number of positional arguments.
func parseFlags(fs *flag.FlagSet, args []string, positional ...string) ([]string, error) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: weir %s [flags] %s\n\nFlags:\n", fs.Name(), strings.Join(positional, " "))
		fs.PrintDefaults()
	}
	// Flags may come before, between and after the positional arguments
	// (weir job swap ID OP FILE --no-wait); "--" ends the flags.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if len(args) > 0 && args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != len(positional) {
		return nil, fmt.Errorf("%w: want %s, got %d argument(s); see 'weir %s -h'", errUsage, strings.Join(positional, " "), len(pos), fs.Name())
	}
	return pos, nil
}

// isJobID reports whether the last argument of `weir checkpoints` names a job
// on a server rather than a job spec file.
func isJobID(args []string) bool {
	if len(args) == 0 {
		return false
	}
	last := args[len(args)-1]
	if _, err := os.Stat(last); err == nil || strings.ContainsAny(last, "/.") {
		return false
	}
	return true
}

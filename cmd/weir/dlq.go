package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"connectrpc.com/connect"

	weirv1 "github.com/weirstream/weir/runtime/api/weirv1"
	"github.com/weirstream/weir/runtime/api/weirv1/weirv1connect"
)

// maxShownBytes is how much of a key or error a listing shows.
const maxShownBytes = 40

// dlqCmd is `weir dlq`: the DLQService of docs/dlq.md.
func dlqCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const subs = "ls, get, edit, resubmit, drop, audit"
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: %s", errUsage, subs)
	}
	fs := flag.NewFlagSet("dlq "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs, false)
	var (
		operator, filter, value, valueFile, note, pageToken *string
		all                                                 *bool
		limit                                               *int
	)
	selector := func() {
		operator = fs.String("operator", "", "only entries of this operator")
		filter = fs.String("filter", "", "only entries whose error, key or value contains this text")
	}
	var pos []string
	var err error
	switch args[0] {
	case "ls", "list":
		selector()
		limit = fs.Int("limit", 100, "list at most this many entries (1..1000)")
		pageToken = fs.String("page-token", "", "start after this token (printed after a listing that has more)")
		pos, err = parseFlags(fs, args[1:], "JOB")
	case "get":
		pos, err = parseFlags(fs, args[1:], "JOB", "ID")
	case "edit":
		value = fs.String("value", "", "the new value")
		valueFile = fs.String("value-file", "", "file with the new value")
		note = fs.String("note", "", "note for the audit trail")
		pos, err = parseFlags(fs, args[1:], "JOB", "ID")
	case "resubmit", "drop":
		selector()
		all = fs.Bool("all", false, "every entry")
		note = fs.String("note", "", "note for the audit trail")
		pos, err = parseSelectorArgs(fs, args[1:])
	case "audit":
		pos, err = parseFlags(fs, args[1:], "JOB")
	default:
		return fmt.Errorf("%w: unknown subcommand dlq %q (want %s)", errUsage, args[0], subs)
	}
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	dlq := c.dlq()
	switch args[0] {
	case "ls", "list":
		if *limit < 1 || *limit > 1000 {
			return fmt.Errorf("%w: --limit %d: want 1..1000", errUsage, *limit)
		}
		res, err := dlq.List(ctx, connect.NewRequest(&weirv1.ListDeadLettersRequest{Job: pos[0], Filter: filterOf(*operator, *filter), PageSize: int32(*limit), PageToken: *pageToken, OmitValues: cf.output == "table"}))
		if err != nil {
			return apiError(err)
		}
		if cf.output == "table" {
			fmt.Fprintf(stderr, "%d matching entries as of checkpoint %d\n", res.Msg.Matching, res.Msg.Checkpoint)
			if t := res.Msg.NextPageToken; t != "" {
				fmt.Fprintf(stderr, "more: --page-token %s\n", t)
			}
		}
		return c.print(stdout, res.Msg, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "ID\tOPERATOR\tSUBTASK\tATTEMPT\tTRIES\tSTATE\tPOSITION\tERROR")
			for _, d := range res.Msg.Entries {
				fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", d.Id, d.Operator, d.Subtask, d.Attempt, d.Tries, dlqState(d), d.Position, cut(firstLine(d.Error)))
			}
		})
	case "get":
		id, err := parseID(pos[1])
		if err != nil {
			return err
		}
		res, err := dlq.Get(ctx, connect.NewRequest(&weirv1.GetDeadLetterRequest{Job: pos[0], Id: id}))
		if err != nil {
			return apiError(err)
		}
		d := res.Msg
		return c.print(stdout, d, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "id:\t%d\njob:\t%s\noperator:\t%s (subtask %d)\nmodule:\t%s\nstate:\t%s\nattempt:\t%d (tried %d times)\n", d.Id, d.Job, d.Operator, d.Subtask, d.Module, dlqState(d), d.Attempt, d.Tries)
			fmt.Fprintf(w, "position:\t%s\ntracking id:\t0x%x\ntimestamp:\t%d\ndead-lettered:\t%s (checkpoint %d)\n", d.Position, d.TrackingId, d.Timestamp, unixMs(d.TimeUnixMs), d.Checkpoint)
			fmt.Fprintf(w, "key:\t%s\nvalue:\t%s\nerror:\t%s\n", shown(d.Key), shown(d.Value), d.Error)
		})
	case "edit":
		id, err := parseID(pos[1])
		if err != nil {
			return err
		}
		var v []byte
		switch {
		case *valueFile != "" && *value != "":
			return fmt.Errorf("%w: give --value or --value-file, not both", errUsage)
		case *valueFile != "":
			if v, err = os.ReadFile(*valueFile); err != nil {
				return err
			}
		case isSet(fs, "value"):
			v = []byte(*value)
		default:
			return fmt.Errorf("%w: want the new value: --value S or --value-file F", errUsage)
		}
		res, err := dlq.Edit(ctx, connect.NewRequest(&weirv1.EditDeadLetterRequest{Job: pos[0], Id: id, Value: v, Note: *note}))
		if err != nil {
			return apiError(err)
		}
		return c.print(stdout, res.Msg, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "entry %d edited (checkpoint %d)\n", id, res.Msg.Checkpoint)
		})
	case "resubmit", "drop":
		var ids []int64
		if len(pos) == 2 {
			for _, s := range strings.Split(pos[1], ",") {
				id, err := parseID(s)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
		}
		f := filterOf(*operator, *filter)
		switch {
		case len(ids) > 0 && (*all || f != nil):
			return fmt.Errorf("%w: give ids, or --all, --filter or --operator, not both", errUsage)
		case len(ids) == 0 && !*all && f == nil:
			return fmt.Errorf("%w: want ids (ID or ID,ID,...), --all, --filter or --operator", errUsage)
		}
		var res *connect.Response[weirv1.ChangeDeadLettersResponse]
		if args[0] == "resubmit" {
			res, err = dlq.Resubmit(ctx, connect.NewRequest(&weirv1.ResubmitDeadLettersRequest{Job: pos[0], Ids: ids, Filter: f, All: *all, Note: *note}))
		} else {
			res, err = dlq.Drop(ctx, connect.NewRequest(&weirv1.DropDeadLettersRequest{Job: pos[0], Ids: ids, Filter: f, All: *all, Note: *note}))
		}
		if err != nil {
			return apiError(err)
		}
		verb := map[string]string{"resubmit": "resubmitted", "drop": "dropped"}[args[0]]
		return c.print(stdout, res.Msg, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "%d %s %s (checkpoint %d)\n", len(res.Msg.Ids), plural(len(res.Msg.Ids), "entry", "entries"), verb, res.Msg.Checkpoint)
		})
	case "audit":
		res, err := dlq.ListAudit(ctx, connect.NewRequest(&weirv1.ListDLQAuditRequest{Job: pos[0]}))
		if err != nil {
			return apiError(err)
		}
		return c.print(stdout, res.Msg, func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "CHECKPOINT\tTIME\tCHANGE\tENTRIES\tNOTE")
			for _, a := range res.Msg.Records {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", a.Checkpoint, unixMs(a.TimeUnixMs), a.Kind, idList(a.Ids), a.Note)
			}
		})
	}
	return nil
}

func (c *client) dlq() weirv1connect.DLQServiceClient { return c.dlqClient }

// parseSelectorArgs parses JOB and, optionally, a list of ids.
func parseSelectorArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	pos, err := parseFlags(fs, args, "JOB", "ID[,ID...]")
	if err == nil {
		return pos, nil
	}
	return parseFlags(fs, args, "JOB")
}

func filterOf(operator, text string) *weirv1.DeadLetterFilter {
	if operator == "" && text == "" {
		return nil
	}
	return &weirv1.DeadLetterFilter{Operator: operator, Text: text}
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("%w: entry id %q: want a whole number >= 1", errUsage, s)
	}
	return id, nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func dlqState(d *weirv1.DeadLetter) string {
	switch {
	case d.Resubmitting:
		return "resubmitting"
	case d.Edited:
		return "edited"
	}
	return "dead"
}

// shown renders bytes as text when they are UTF-8, else quoted.
func shown(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strconv.QuoteToASCII(string(b))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func cut(s string) string {
	if len(s) <= maxShownBytes {
		return s
	}
	return s[:maxShownBytes] + "..."
}

func idList(ids []int64) string {
	var parts []string
	for i, id := range ids {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("... (%d)", len(ids)))
			break
		}
		parts = append(parts, strconv.FormatInt(id, 10))
	}
	return strings.Join(parts, ",")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

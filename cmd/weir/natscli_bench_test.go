package main

import (
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// natsCLI returns the path of the NATS command line tool: $WEIR_NATS_CLI, the
// one scripts/install-natscli.sh caches in $HOME/.cache/weir/bin, or `nats` on
// the PATH; "" if none exists.
func natsCLI() string {
	if p := os.Getenv("WEIR_NATS_CLI"); p != "" {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "weir", "bin", "nats")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("nats"); err == nil {
		return p
	}
	return ""
}

// natsBenchResult is what one `nats bench` run reports in its CSV file
// (--csv): the rate and duration of its one client. (The file's MsgCount is
// the connection's messages in and out, acks included, not the benchmark's.)
type natsBenchResult struct {
	rate     float64 // messages/s
	duration time.Duration
}

// runNATSBench runs `nats bench js <args>` with one client against url,
// --msgs n of --size 80B, and returns the figures of its CSV report.
func runNATSBench(b *testing.B, cli, url string, n int, args ...string) natsBenchResult {
	b.Helper()
	out := filepath.Join(b.TempDir(), "bench.csv")
	full := append([]string{"bench", "js"}, args...)
	full = append(full, "--server", url, "--clients", "1", "--msgs", strconv.Itoa(n), "--size", "80B", "--no-progress", "--csv", out)
	cmd := exec.Command(cli, full...)
	log, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("nats %v: %v\n%s", full, err, log)
	}
	f, err := os.Open(out)
	if err != nil {
		b.Fatalf("nats %v wrote no CSV report: %v\n%s", full, err, log)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 2 {
		b.Fatalf("nats %v: CSV report of %d rows (%v), want a header and one client\n%s", full, len(rows), err, log)
	}
	col := map[string]string{}
	for i, h := range rows[0] {
		if i < len(rows[1]) {
			col[h] = rows[1][i]
		}
	}
	var r natsBenchResult
	var secs float64
	r.rate, err = strconv.ParseFloat(col["MsgsPerSec"], 64)
	if err == nil {
		secs, err = strconv.ParseFloat(col["DurationSecs"], 64)
	}
	if err != nil {
		b.Fatalf("nats %v: CSV report %q: %v", full, rows, err)
	}
	r.duration = time.Duration(secs * float64(time.Second))
	if r.duration <= 0 || r.rate <= 0 {
		b.Fatalf("nats %v: CSV report %q has no duration or rate", full, rows)
	}
	return r
}

// BenchmarkNATSBench measures, against one in-process nats-server in one run,
// records/s into JetStream through a `weir run` job (generator -> nats sink,
// the job of BenchmarkNATS) against the NATS CLI's own tool, `nats bench js
// pub async` (one client, the same number of 80-byte messages into a new
// file stream, its default of 500 publishes in flight; once plainly and once
// with --dedup, a Nats-Msg-Id on every message as the sink sets), and out of
// it through a job (nats source -> discard) against `nats bench js ordered`
// reading the job's stream to its end, and reports the ratios. A job's time
// runs from its "job running" line to its exit, final checkpoint and commit
// included; the tool's are the durations it reports, connection set-up
// excluded. It skips when the NATS CLI is not installed (make natscli).
//
//	go test -run '^$' -bench BenchmarkNATSBench -benchtime 1x ./cmd/weir/
func BenchmarkNATSBench(b *testing.B) {
	cli := natsCLI()
	if cli == "" {
		b.Skip("the NATS CLI is not installed: run `make natscli` (scripts/install-natscli.sh) or set WEIR_NATS_CLI")
	}
	nb := newNATSBench(b)
	url := nb.srv.URL()
	for b.Loop() {
		nb.reset("TOOL", "TOOLDEDUP")
		weirIn := nb.jobIn()
		toolIn := runNATSBench(b, cli, url, natsBenchRecords, "pub", "async", "tool", "--stream", "TOOL", "--create", "--storage", "file")
		toolDedup := runNATSBench(b, cli, url, natsBenchRecords, "pub", "async", "tooldedup", "--stream", "TOOLDEDUP", "--create", "--storage", "file", "--dedup")
		for _, s := range []string{"TOOL", "TOOLDEDUP"} {
			if n := nb.count(s); n != natsBenchRecords {
				b.Fatalf("nats bench stored %d messages in %s, want %d", n, s, natsBenchRecords)
			}
		}

		weirOut := nb.job(natsBenchOutSpec)
		toolOut := runNATSBench(b, cli, url, natsBenchRecords, "ordered", "--stream", "BIN")

		rate := func(d time.Duration) float64 { return natsBenchRecords / d.Seconds() }
		b.ReportMetric(rate(weirIn), "weir-in-records/s")
		b.ReportMetric(toolIn.rate, "bench-pub-records/s")
		b.ReportMetric(toolDedup.rate, "bench-pub-dedup-records/s")
		b.ReportMetric(toolIn.duration.Seconds()/weirIn.Seconds(), "in-ratio")
		b.ReportMetric(toolDedup.duration.Seconds()/weirIn.Seconds(), "in-dedup-ratio")
		b.ReportMetric(rate(weirOut), "weir-out-records/s")
		b.ReportMetric(toolOut.rate, "bench-ordered-records/s")
		b.ReportMetric(toolOut.duration.Seconds()/weirOut.Seconds(), "out-ratio")
		b.Logf("%d records: into JetStream weir %v, nats bench js pub async %v (with --dedup %v); out of it weir %v, nats bench js ordered %v",
			natsBenchRecords, weirIn, toolIn.duration, toolDedup.duration, weirOut, toolOut.duration)
	}
}

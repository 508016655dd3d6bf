package nexmarkcompare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeCommand writes an executable shell script that prints stdout, prints
// stderr on standard error and exits with code, and returns its path.
func fakeCommand(t *testing.T, name, stdout, stderr string, code int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s' '%s'\nprintf '%%s' '%s' >&2\nexit %d\n", stdout, stderr, code)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func flinkJSON(query string, events int64, backend Backend, elapsedMs float64) string {
	rate := 0.0
	if elapsedMs > 0 {
		rate = float64(events) / elapsedMs * 1000
	}
	return fmt.Sprintf(`{"engine":"flink","query":%q,"events":%d,"parallelism":2,"backend":%q,"checkpointIntervalMs":10000,`+
		`"elapsedMs":%v,"eventsPerSec":%v,"cpuMs":1,"eventsPerCpuSec":1,"clusterStartMs":5,"results":7,"checkpoints":1,`+
		`"peakRssBytes":1048576,"flinkVersion":"2.2.1","javaVersion":"17","maxHeapBytes":2147483648}`+"\n",
		query, events, backend, elapsedMs, rate)
}

func TestFlinkRun(t *testing.T) {
	opts := FlinkOptions{Query: "q5", Events: 1000, Parallelism: 2, CheckpointInterval: 10 * time.Second, Backend: RocksDB}
	tests := []struct {
		name    string
		stdout  string
		stderr  string
		code    int
		wantErr string // "" for success
	}{
		{name: "result", stdout: flinkJSON("q5", 1000, RocksDB, 500)},
		{name: "failed run", stderr: "log line\nnexmark-flink: q5 failed: state backend broke\n\tat X.y()\n", code: 1,
			wantErr: "flink q5 (rocksdb): q5 failed: state backend broke (exit status 1)"},
		{name: "failed without message", stderr: "Error: Invalid or corrupt jarfile x.jar\n\n", code: 1,
			wantErr: "flink q5 (rocksdb): Error: Invalid or corrupt jarfile x.jar (exit status 1)"},
		{name: "failed silently", code: 3, wantErr: "flink q5 (rocksdb): failed (exit status 3)"},
		{name: "two lines", stdout: "{}\n{}\n", wantErr: "printed 2 lines"},
		{name: "not json", stdout: "hello\n", wantErr: "not a result"},
		{name: "unknown field", stdout: `{"engine":"flink","speed":1}` + "\n", wantErr: "not a result"},
		{name: "other query", stdout: flinkJSON("q4", 1000, RocksDB, 500), wantErr: "the result is of another run"},
		{name: "other backend", stdout: flinkJSON("q5", 1000, Heap, 500), wantErr: "the result is of another run"},
		{name: "no time", stdout: flinkJSON("q5", 1000, RocksDB, 0), wantErr: "no elapsed time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Flink{Java: fakeCommand(t, "java", tt.stdout, tt.stderr, tt.code), Jar: "/nonexistent.jar"}
			r, err := f.Run(context.Background(), opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if r.Results != 7 || r.EventsPerSec != 2000 || r.ChildPeakRSSBytes <= 0 {
					t.Errorf("Run = %+v, want 7 results at 2000 events/s and the child's peak RSS", r)
				}
				return
			}
			if err == nil {
				t.Fatalf("Run succeeded with %+v, want an error containing %q", r, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestFlinkRunArgs(t *testing.T) {
	o := FlinkOptions{Query: "q0", Events: 5, Parallelism: 3, CheckpointInterval: 1500 * time.Millisecond, Backend: Heap,
		Seed: 7, EventsPerSecond: 1000, Output: "/tmp/o.txt"}
	got := strings.Join(o.args(), " ")
	want := "-query q0 -events 5 -parallelism 3 -checkpoint-interval 1.5s -backend heap -seed 7 -events-per-second 1000 -output /tmp/o.txt"
	if got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
}

func TestFlinkAvailable(t *testing.T) {
	jar := filepath.Join(t.TempDir(), "x.jar")
	if err := os.WriteFile(jar, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		f       Flink
		wantErr string
	}{
		{"ready", Flink{Java: "sh", Jar: jar}, ""},
		{"no java", Flink{Java: "/nonexistent/java", Jar: jar}, "java not found"},
		{"no jar", Flink{Java: "sh", Jar: jar + ".missing"}, "build it with"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Available()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Available: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Available = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name      string
		want, got []string
		max       int
		wantDiff  string // "" means equal
	}{
		{name: "equal", want: []string{"a", "b", "b"}, got: []string{"a", "b", "b"}},
		{name: "both empty"},
		{name: "missing", want: []string{"a", "b", "c"}, got: []string{"a", "c"}, max: 10,
			wantDiff: "  1 lines only in the reference (-), 0 only in the engine's output (+); the first 1:\n  - b\n"},
		{name: "extra", want: []string{"a"}, got: []string{"a", "z"}, max: 10,
			wantDiff: "  0 lines only in the reference (-), 1 only in the engine's output (+); the first 1:\n  + z\n"},
		{name: "duplicate counts", want: []string{"a", "a"}, got: []string{"a"}, max: 10,
			wantDiff: "  1 lines only in the reference (-), 0 only in the engine's output (+); the first 1:\n  - a\n"},
		{name: "changed line", want: []string{"1,2", "3,4"}, got: []string{"1,2", "3,5"}, max: 10,
			wantDiff: "  1 lines only in the reference (-), 1 only in the engine's output (+); the first 2:\n  - 3,4\n  + 3,5\n"},
		{name: "bounded", want: []string{"a", "b", "c"}, got: nil, max: 2,
			wantDiff: "  3 lines only in the reference (-), 0 only in the engine's output (+); the first 2:\n  - a\n  - b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Diff(tt.want, tt.got, tt.max); got != tt.wantDiff {
				t.Errorf("Diff =\n%s\nwant\n%s", got, tt.wantDiff)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		parse   func() (int, error)
		wantN   int
		wantErr string
	}{
		{"all queries", func() (int, error) { q, err := ParseQueries("all"); return len(q), err }, 9, ""},
		{"some queries", func() (int, error) { q, err := ParseQueries("q0, q5"); return len(q), err }, 2, ""},
		{"unknown query", func() (int, error) { q, err := ParseQueries("q0,q6"); return len(q), err }, 0, `unknown nexmark query "q6"`},
		{"repeated query", func() (int, error) { q, err := ParseQueries("q1,q1"); return len(q), err }, 0, "listed twice"},
		{"backends", func() (int, error) { b, err := ParseBackends("rocksdb,heap"); return len(b), err }, 2, ""},
		{"unknown backend", func() (int, error) { b, err := ParseBackends("rocksdb,memory"); return len(b), err }, 0, `"memory" is not`},
		{"no backend", func() (int, error) { b, err := ParseBackends(" , "); return len(b), err }, 0, "no flink state backend"},
		{"repeated backend", func() (int, error) { b, err := ParseBackends("heap,heap"); return len(b), err }, 0, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tt.parse()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || n != tt.wantN {
				t.Fatalf("got %d, %v; want %d", n, err, tt.wantN)
			}
		})
	}
}

func TestCheckBenchOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    BenchOptions
		wantErr string
	}{
		{"defaults", BenchOptions{}, ""},
		{"negative events", BenchOptions{Events: -5}, "at least 1 event"},
		{"parallelism too high", BenchOptions{Parallelism: 129}, "parallelism 129"},
		{"interval too short", BenchOptions{CheckpointInterval: time.Millisecond}, "shorter than Flink's minimum"},
		{"bad backend", BenchOptions{Backends: []Backend{"fs"}}, `"fs" is not`},
		{"no query", BenchOptions{Queries: []string{}}, "no query chosen"},
		{"unknown query", BenchOptions{Queries: []string{"q9"}}, `unknown nexmark query "q9"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckBenchOptions(tt.opts)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("CheckBenchOptions: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("CheckBenchOptions = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	ok := func(rate float64, rss, results int64) Measurement {
		return Measurement{EventsPerSec: rate, PeakRSSBytes: rss, Results: results}
	}
	rows := []Row{
		{Query: "q0", Weir: ok(3_000_000, 100<<20, 9), Flink: []Measurement{ok(1_000_000, 800<<20, 9), ok(1_500_000, 700<<20, 9)}},
		{Query: "q5", Weir: ok(2_000_000, 150<<20, 4), Flink: []Measurement{{Err: errors.New("flink q5 (rocksdb): out of | memory\ncommand: java ...")}, ok(500_000, 900<<20, 5)}},
		{Query: "q7", Weir: Measurement{Err: errors.New("weir q7: boom")}, Flink: []Measurement{ok(400_000, 1<<30, 3), ok(400_000, 1<<30, 3)}},
	}
	var b bytes.Buffer
	if err := WriteTable(&b, rows, []Backend{RocksDB, Heap}); err != nil {
		t.Fatal(err)
	}
	want := `| query |   Weir events/s |                             Flink RocksDB events/s | Weir / Flink RocksDB | Flink heap events/s | Weir / Flink heap | Weir peak RSS | Flink RocksDB peak RSS | Flink heap peak RSS |
| ----- | --------------: | -------------------------------------------------: | -------------------: | ------------------: | ----------------: | ------------: | ---------------------: | ------------------: |
| q0    |       3,000,000 |                                          1,000,000 |                3.00x |           1,500,000 |             2.00x |       100 MiB |                800 MiB |             700 MiB |
| q5    |       2,000,000 | failed: flink q5 (rocksdb): out of \| memory |                    - |             500,000 |             4.00x |       150 MiB |                      - |             900 MiB |
| q7    | failed: weir q7: boom |                                        400,000 |                    - |             400,000 |                 - |             - |               1024 MiB |            1024 MiB |

NB: result counts differ: q5: Weir emitted 4 results, Flink heap 5
`
	got := b.String()
	// Compare the cells, not the padding.
	if norm(got) != norm(want) {
		t.Errorf("WriteTable =\n%s\nwant (up to padding)\n%s", got, want)
	}
	if err := WriteTable(&b, rows, []Backend{RocksDB}); err == nil {
		t.Error("WriteTable with fewer backends than runs succeeded")
	}
}

func TestWriteCPUTable(t *testing.T) {
	rows := []Row{
		{Query: "q1", Weir: Measurement{EventsPerCPUSec: 900}, Flink: []Measurement{{EventsPerCPUSec: 300}, {Err: errors.New("boom")}}},
	}
	var b bytes.Buffer
	if err := WriteCPUTable(&b, rows, []Backend{RocksDB, Heap}); err != nil {
		t.Fatal(err)
	}
	want := `| query | Weir events/CPU-s | Flink RocksDB events/CPU-s | Weir / Flink RocksDB | Flink heap events/CPU-s | Weir / Flink heap |
| --- | --- | --- | --- | --- | --- |
| q1 | 900 | 300 | 3.00x | failed: boom | - |
`
	if norm(b.String()) != norm(want) {
		t.Errorf("WriteCPUTable =\n%s\nwant (up to padding)\n%s", b.String(), want)
	}
}

// norm removes the padding of table cells.
func norm(s string) string {
	var lines []string
	for _, line := range strings.Split(s, "\n") {
		cells := strings.Split(line, "|")
		for i, c := range cells {
			cells[i] = strings.TrimSpace(c)
			if strings.Trim(cells[i], "-:") == "" && cells[i] != "" {
				cells[i] = "---"
			}
		}
		lines = append(lines, strings.Join(cells, "|"))
	}
	return strings.Join(lines, "\n")
}

func weirJSON(query string, events int64, eventsPerSec float64) string {
	return fmt.Sprintf(`{"query":%q,"events":%d,"parallelism":2,"checkpointIntervalNanos":10000000000,"elapsedNanos":1,`+
		`"eventsPerSec":%v,"eventsPerCPUSec":1,"results":7,"checkpoints":2,"peakRSSBytes":1,"userCPUNanos":1,"systemCPUNanos":1}`+"\n",
		query, events, eventsPerSec)
}

// TestBenchNeverRatesAFailedRun runs Bench against fake engines: Weir and
// Flink heap succeed, Flink RocksDB fails; the table must show the failure and
// only the heap ratio.
func TestBenchNeverRatesAFailedRun(t *testing.T) {
	weir := fakeCommand(t, "weir-nexmark", weirJSON("q2", 1000, 4000), "", 0)
	// One script for both backends: it fails when given -backend rocksdb.
	dir := t.TempDir()
	java := filepath.Join(dir, "java")
	script := "#!/bin/sh\ncase \"$*\" in\n*rocksdb*) echo 'nexmark-flink: q2 failed: disk full' >&2; exit 1;;\n" +
		"*) printf '%s' '" + flinkJSON("q2", 1000, Heap, 500) + "';;\nesac\n"
	if err := os.WriteFile(java, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	jar := filepath.Join(dir, "x.jar")
	if err := os.WriteFile(jar, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rows, err := Bench(context.Background(), BenchOptions{
		Queries: []string{"q2"}, Events: 1000, Weir: weir, Flink: Flink{Java: java, Jar: jar},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || len(rows[0].Flink) != 2 {
		t.Fatalf("rows = %+v, want one row with two flink runs", rows)
	}
	r := rows[0]
	if r.Weir.Err != nil || r.Weir.EventsPerSec != 4000 {
		t.Errorf("weir = %+v, want 4000 events/s", r.Weir)
	}
	if r.Flink[0].Err == nil || !strings.Contains(r.Flink[0].Err.Error(), "disk full") {
		t.Errorf("flink rocksdb = %+v, want the failure 'disk full'", r.Flink[0])
	}
	if r.Flink[1].Err != nil || r.Flink[1].EventsPerSec != 2000 {
		t.Errorf("flink heap = %+v, want 2000 events/s", r.Flink[1])
	}
	var b bytes.Buffer
	if err := WriteTable(&b, rows, []Backend{RocksDB, Heap}); err != nil {
		t.Fatal(err)
	}
	table := b.String()
	for _, want := range []string{"failed: flink q2 (rocksdb): q2 failed: disk full (exit status 1)", "2.00x"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Count(table, "x |") != 1 {
		t.Errorf("table has %d ratios, want only the heap one:\n%s", strings.Count(table, "x |"), table)
	}
}

// TestFlinkMatchesReference is the equality check of issue 4: every query,
// run by Flink (RocksDB state backend, parallelism 2, checkpoints every
// 500 ms) on 100 000 events, must produce exactly the reference
// implementation's sorted lines. It needs Java and the built jar (`make
// nexmark-flink-check`); it is skipped otherwise, and in -short mode.
func TestFlinkMatchesReference(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: one JVM and Flink MiniCluster per query")
	}
	f := Flink{}
	if err := f.Available(); err != nil {
		t.Skipf("flink side not runnable: %v", err)
	}
	results, err := Check(context.Background(), CheckOptions{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		t.Run(r.Query+"/"+r.Engine, func(t *testing.T) {
			if !r.OK() {
				t.Error(r.Summary())
			}
		})
	}
}

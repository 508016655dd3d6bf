package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/weirstream/weir/plugins/postgres/pgtest"
)

// pgCrashSpec is a generator straight into the postgres sink in a given mode.
// The parallelism (of the job, so of the sink) and the rate change from run
// to run; the records do not (datagen's records depend only on seed and
// count).
const pgCrashSpec = `name: pgcrash
parallelism: %d
checkpoint: {interval: 200ms}
restart: {attempts: 1000, delay: 200ms}
sources:
  - name: events
    kind: datagen
    options: {seed: 5, count: %d, splits: 4, keys: 50, valueBytes: 28, rate: %d}
sinks:
  - name: out
    kind: postgres
    from: events
    options: {connectionEnv: WEIR_TEST_PG, table: crash_out, createTable: true, keyColumn: k, mode: %s}
`

// pgCrashRecords is the number of records the job writes. At pgCrashRate
// records/s a run killed within pgMaxKillDelay reads at most 16 000 of them,
// so the job cannot end before the last kill.
const (
	pgCrashRecords = 300_000
	pgCrashRate    = 20_000
)

// TestPostgresCrashRecovery runs a job writing to a real PostgreSQL through
// the sink as a child `weir run`, in 2pc mode and in staged mode (on a server
// with prepared transactions disabled), kills it with SIGKILL at random moments
// (at least 10 times, seed logged), restarts it each time at another
// parallelism (1, 2 or 3), once stops and restarts the database server while
// the job checkpoints, then lets it finish. A table scan must hold each of
// the generator's records exactly once, and no prepared transaction or
// staged row may be left behind.
func TestPostgresCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes and a database server for tens of seconds")
	}
	t.Run("2pc", func(t *testing.T) { testPostgresCrash(t, "2pc", 32) })
	t.Run("staged", func(t *testing.T) { testPostgresCrash(t, "staged", 0) })
}

func testPostgresCrash(t *testing.T, mode string, maxPrepared int) {
	srv := pgtest.Start(t, pgtest.Options{MaxPreparedTransactions: maxPrepared})
	bin := buildWeir(t)
	cache, dir := t.TempDir(), t.TempDir()
	spec := func(parallelism, rate int) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "job.yaml"), fmt.Appendf(nil, pgCrashSpec, parallelism, pgCrashRecords, rate, mode), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	seed, restores, rescales := pgKillRuns(t, srv, bin, dir, cache, func(p int) { spec(p, pgCrashRate) })
	// The last run, unthrottled, at another parallelism again.
	spec(3, 0)
	pgFinalRun(t, seed, srv, bin, dir, cache, "pgcrash")

	// The model: datagen's record i has a value starting with i in 20 digits.
	ctx := context.Background()
	c, err := pgx.Connect(ctx, srv.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "SELECT left(value, 20) FROM crash_out")
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]int, pgCrashRecords)
	scanned, bad := 0, 0
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		scanned++
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 || i >= pgCrashRecords {
			bad++
			continue
		}
		seen[i]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	lost, dup := 0, 0
	for _, n := range seen {
		if n == 0 {
			lost++
		}
		if n > 1 {
			dup += n - 1
		}
	}
	var left []string
	prows, err := c.Query(ctx, "SELECT gid FROM pg_prepared_xacts")
	if err != nil {
		t.Fatal(err)
	}
	if left, err = pgx.CollectRows(prows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	var staged int
	if mode == "staged" {
		if err := c.QueryRow(ctx, "SELECT count(*) FROM crash_out_weir_staging").Scan(&staged); err != nil {
			t.Fatal(err)
		}
		if staged != 0 {
			t.Errorf("seed %d: %d rows left in the staging table", seed, staged)
		}
	}
	t.Logf("seed %d: mode %s: %d kills (%d runs restored a checkpoint, %d parallelism changes between runs), 1 database restart; table scan: %d rows, model %d records: lost %d, duplicated %d, foreign %d; prepared transactions left %d, staged rows left %d",
		seed, mode, pgMinKills, restores, rescales, scanned, pgCrashRecords, lost, dup, bad, len(left), staged)
	if lost != 0 || dup != 0 || bad != 0 {
		t.Errorf("seed %d: the table differs from the model: lost %d, duplicated %d, rows that are no record %d", seed, lost, dup, bad)
	}
	if len(left) != 0 {
		t.Errorf("seed %d: prepared transactions left behind: %q", seed, left)
	}
}

// pgWeirRun returns the command that runs the job in dir against srv.
func pgWeirRun(srv *pgtest.Server, bin, dir, cache string) *exec.Cmd {
	cmd := weirRun(bin, dir, cache)
	cmd.Env = append(os.Environ(), "WEIR_TEST_PG="+srv.ConnString())
	return cmd
}

// Kills of pgKillRuns.
const (
	pgMinKills     = 10
	pgMaxKillDelay = 800 * time.Millisecond
	pgDBRestartRun = 5 // the run during which the database restarts
)

// pgKillRuns runs the job in dir as a child `weir run` against srv
// pgMinKills times, each at a random parallelism of 1, 2 or 3 (spec writes
// the job's spec for one), and kills each run with SIGKILL at a random moment
// (seed logged) within pgMaxKillDelay of its start; every other run only
// after its first checkpoint. During run pgDBRestartRun it stops and restarts
// the database server while the job checkpoints, and waits for two more
// complete checkpoints. It fails the test if fewer than half the runs
// restored a checkpoint (kills that all land before the first checkpoint
// would test nothing). It returns the seed, the runs that restored a
// checkpoint and the parallelism changes between runs.
func pgKillRuns(t *testing.T, srv *pgtest.Server, bin, dir, cache string, spec func(parallelism int)) (seed int64, restores, rescales int) {
	t.Helper()
	seed = time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	prev := 0
	for kill := 1; kill <= pgMinKills; kill++ {
		p := 1 + rng.Intn(3)
		if p != prev && prev != 0 {
			rescales++
		}
		prev = p
		spec(p)
		cmd := pgWeirRun(srv, bin, dir, cache)
		running, done, stderr := startRun(t, cmd)
		r := &syncCmd{cmd: cmd, running: running, done: done, stderr: stderr}
		select {
		case err := <-r.done:
			t.Fatalf("seed %d: run %d ended before it ran (%v):\n%s", seed, kill, err, r.stderr)
		case <-r.running:
		}
		if !strings.Contains(r.stderr.String(), "restoredCheckpoint=0") {
			restores++
		}
		delay := time.Duration(rng.Int63n(int64(pgMaxKillDelay)))
		if kill%2 == 1 {
			// NB: as in TestCrashRecovery, every other run is killed only
			// after its first checkpoint, whatever the machine's speed.
			if ok, err := waitCheckpoint(r.stderr, r.done); !ok {
				t.Fatalf("seed %d: run %d ended before its first checkpoint (%v):\n%s", seed, kill, err, r.stderr)
			}
			delay /= 3
		}
		if kill == pgDBRestartRun {
			// Checkpoints start every 200 ms and the sink prepares at each
			// one, so an immediate stop now lands while one is pending or
			// being committed. The job must fail, retry and, once the server
			// is back, complete checkpoints again.
			before := strings.Count(r.stderr.String(), "checkpoint complete")
			time.Sleep(time.Duration(rng.Int63n(int64(200 * time.Millisecond))))
			srv.Stop("immediate")
			time.Sleep(300 * time.Millisecond)
			srv.Start()
			t.Logf("seed %d: run %d: restarted the database server after %d completed checkpoints", seed, kill, before)
			if !waitCount(r, "checkpoint complete", before+2) {
				t.Fatalf("seed %d: run %d completed no checkpoint after the database restart:\n%s", seed, kill, r.stderr)
			}
			if !strings.Contains(r.stderr.String(), "job attempt failed") {
				t.Logf("seed %d: the job did not notice the database restart (no failed attempt)", seed)
			}
		}
		select {
		case err := <-r.done:
			t.Fatalf("seed %d: run %d ended before it was killed (%v):\n%s", seed, kill, err, r.stderr)
		case <-time.After(delay):
			r.cmd.Process.Signal(syscall.SIGKILL)
			<-r.done
		}
	}
	if restores < pgMinKills/2 {
		t.Fatalf("seed %d: only %d of %d killed runs restored a checkpoint", seed, restores, pgMinKills)
	}
	return seed, restores, rescales
}

// pgFinalRun runs the job in dir against srv to its end, and fails the test
// unless it logs "<job> finished".
func pgFinalRun(t *testing.T, seed int64, srv *pgtest.Server, bin, dir, cache, job string) {
	t.Helper()
	out, err := pgWeirRun(srv, bin, dir, cache).CombinedOutput()
	if err != nil {
		t.Fatalf("seed %d: final run failed: %v\n%s", seed, err, out)
	}
	if !strings.Contains(string(out), job+" finished") {
		t.Fatalf("seed %d: the final run did not finish the job:\n%s", seed, out)
	}
}

// syncCmd is a started child run.
type syncCmd struct {
	cmd     *exec.Cmd
	running <-chan struct{}
	done    <-chan error
	stderr  *syncBuffer
}

// waitCount waits until stderr has n lines containing s, or the run ended
// (false).
func waitCount(r *syncCmd, s string, n int) bool {
	for strings.Count(r.stderr.String(), s) < n {
		select {
		case <-r.done:
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
	return true
}

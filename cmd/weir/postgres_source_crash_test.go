package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/weirstream/weir/plugins/postgres/pgtest"
)

// pgSourceCrashSpec reads table crash_src with the postgres source (by its id
// column, the id as the value) into table crash_copy through the postgres
// sink in 2pc mode. The parallelism changes from run to run (the source has
// one split; the sink has one subtask per unit of parallelism); the last run
// is bounded so that the job ends.
const pgSourceCrashSpec = `name: pgsrccrash
parallelism: %d
checkpoint: {interval: 200ms}
restart: {attempts: 1000, delay: 200ms}
sources:
  - name: rows
    kind: postgres
    options: {connectionEnv: WEIR_TEST_PG, table: crash_src, column: id, valueColumn: id, batchRows: 500, pollInterval: 50ms, bounded: %t}
sinks:
  - name: out
    kind: postgres
    from: rows
    options: {connectionEnv: WEIR_TEST_PG, table: crash_copy, createTable: true, mode: 2pc}
`

// The writer of the source table inserts pgSourceCrashRows rows, in batches of
// pgSourceCrashBatch, one batch every pgSourceCrashEvery (about 20 000 rows/s),
// so that rows keep arriving while the runs are killed.
const (
	pgSourceCrashRows  = 300_000
	pgSourceCrashBatch = 400
	pgSourceCrashEvery = 20 * time.Millisecond
)

// TestPostgresSourceCrashRecovery runs a job reading a real PostgreSQL table
// with the postgres source (while a writer keeps inserting rows in id order)
// into another table through the 2pc postgres sink, as a child `weir run`,
// kills it with SIGKILL at random moments (at least 10 times, seed logged),
// restarts it each time at another parallelism (1, 2 or 3), once stops and
// restarts the database server while the job checkpoints, then lets a bounded
// run finish once the writer is done. A table scan of the copy must hold each
// id of the source table exactly once, and no prepared transaction may be
// left behind: the source's position (the last id) restores with the sink's
// committed checkpoint.
func TestPostgresSourceCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes and a database server for tens of seconds")
	}
	srv := pgtest.Start(t, pgtest.Options{MaxPreparedTransactions: 32})
	srv.Exec("CREATE TABLE crash_src (id bigint PRIMARY KEY, v text NOT NULL)")
	bin := buildWeir(t)
	cache, dir := t.TempDir(), t.TempDir()
	spec := func(parallelism int, bounded bool) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "job.yaml"), fmt.Appendf(nil, pgSourceCrashSpec, parallelism, bounded), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func() *syncCmd {
		cmd := weirRun(bin, dir, cache)
		cmd.Env = append(os.Environ(), "WEIR_TEST_PG="+srv.ConnString())
		running, done, stderr := startRun(t, cmd)
		return &syncCmd{cmd: cmd, running: running, done: done, stderr: stderr}
	}

	// The writer: one connection, one transaction per batch, so the ids
	// commit in increasing order as the source requires. A batch that fails
	// (the database restart) is retried on a new connection; ON CONFLICT
	// makes a retry of a batch that did commit harmless.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writerDone := make(chan error, 1)
	go func() {
		var c *pgx.Conn
		defer func() {
			if c != nil {
				c.Close(context.Background())
			}
		}()
		for next := 1; next <= pgSourceCrashRows; {
			if ctx.Err() != nil {
				writerDone <- ctx.Err()
				return
			}
			if c == nil {
				var err error
				if c, err = pgx.Connect(ctx, srv.ConnString()); err != nil {
					c = nil
					time.Sleep(100 * time.Millisecond)
					continue
				}
			}
			last := min(next+pgSourceCrashBatch-1, pgSourceCrashRows)
			if _, err := c.Exec(ctx, "INSERT INTO crash_src SELECT g, 'row ' || g FROM generate_series($1::bigint, $2::bigint) g ON CONFLICT DO NOTHING", next, last); err != nil {
				c.Close(context.Background())
				c = nil
				time.Sleep(100 * time.Millisecond)
				continue
			}
			next = last + 1
			time.Sleep(pgSourceCrashEvery)
		}
		writerDone <- nil
	}()

	const (
		minKills     = 10
		maxKillDelay = 800 * time.Millisecond
		dbRestartRun = 5 // the run during which the database restarts
	)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	restores, rescales, prev := 0, 0, 0
	for kill := 1; kill <= minKills; kill++ {
		p := 1 + rng.Intn(3)
		if p != prev && prev != 0 {
			rescales++
		}
		prev = p
		spec(p, false)
		r := run()
		select {
		case err := <-r.done:
			t.Fatalf("seed %d: run %d ended before it ran (%v):\n%s", seed, kill, err, r.stderr)
		case <-r.running:
		}
		if !strings.Contains(r.stderr.String(), "restoredCheckpoint=0") {
			restores++
		}
		delay := time.Duration(rng.Int63n(int64(maxKillDelay)))
		if kill%2 == 1 {
			// NB: as in TestCrashRecovery, every other run is killed only
			// after its first checkpoint, whatever the machine's speed.
			if ok, err := waitCheckpoint(r.stderr, r.done); !ok {
				t.Fatalf("seed %d: run %d ended before its first checkpoint (%v):\n%s", seed, kill, err, r.stderr)
			}
			delay /= 3
		}
		if kill == dbRestartRun {
			// As in TestPostgresCrashRecovery: an immediate stop lands while
			// a checkpoint is pending or being committed; the source's
			// queries and the sink's transactions fail, the job retries, and
			// once the server is back it completes checkpoints again.
			before := strings.Count(r.stderr.String(), "checkpoint complete")
			time.Sleep(time.Duration(rng.Int63n(int64(200 * time.Millisecond))))
			srv.Stop("immediate")
			time.Sleep(300 * time.Millisecond)
			srv.Start()
			t.Logf("seed %d: run %d: restarted the database server after %d completed checkpoints", seed, kill, before)
			if !waitCount(r, "checkpoint complete", before+2) {
				t.Fatalf("seed %d: run %d completed no checkpoint after the database restart:\n%s", seed, kill, r.stderr)
			}
		}
		select {
		case err := <-r.done:
			t.Fatalf("seed %d: run %d (unbounded) ended before it was killed (%v):\n%s", seed, kill, err, r.stderr)
		case <-time.After(delay):
			r.cmd.Process.Signal(syscall.SIGKILL)
			<-r.done
		}
	}
	if err := <-writerDone; err != nil {
		t.Fatalf("writer: %v", err)
	}
	// The last run, bounded by the table's maximum id (every row written by
	// now), at another parallelism again.
	spec(3, true)
	cmd := weirRun(bin, dir, cache)
	cmd.Env = append(os.Environ(), "WEIR_TEST_PG="+srv.ConnString())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("seed %d: final run failed: %v\n%s", seed, err, out)
	}
	if !strings.Contains(string(out), "pgsrccrash finished") {
		t.Fatalf("seed %d: the final run did not finish the job:\n%s", seed, out)
	}
	if restores < minKills/2 {
		t.Fatalf("seed %d: only %d of %d killed runs restored a checkpoint", seed, restores, minKills)
	}

	// The model: ids 1..pgSourceCrashRows, each once.
	c := srv.Conn()
	var srcRows int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM crash_src").Scan(&srcRows); err != nil {
		t.Fatal(err)
	}
	if srcRows != pgSourceCrashRows {
		t.Fatalf("the source table has %d rows, want %d", srcRows, pgSourceCrashRows)
	}
	rows, err := c.Query(context.Background(), "SELECT value FROM crash_copy")
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]int, pgSourceCrashRows+1)
	scanned, bad := 0, 0
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		scanned++
		id, err := strconv.Atoi(v)
		if err != nil || id < 1 || id > pgSourceCrashRows {
			bad++
			continue
		}
		seen[id]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	lost, dup := 0, 0
	for _, n := range seen[1:] {
		if n == 0 {
			lost++
		}
		if n > 1 {
			dup += n - 1
		}
	}
	prows, err := c.Query(context.Background(), "SELECT gid FROM pg_prepared_xacts")
	if err != nil {
		t.Fatal(err)
	}
	left, err := pgx.CollectRows(prows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d: %d kills (%d runs restored a checkpoint, %d parallelism changes between runs), 1 database restart; table scan: %d rows, model %d rows: lost %d, duplicated %d, foreign %d; prepared transactions left %d",
		seed, minKills, restores, rescales, scanned, pgSourceCrashRows, lost, dup, bad, len(left))
	if lost != 0 || dup != 0 || bad != 0 {
		t.Errorf("seed %d: the copy differs from the source table: lost %d, duplicated %d, rows that are no id %d", seed, lost, dup, bad)
	}
	if len(left) != 0 {
		t.Errorf("seed %d: prepared transactions left behind: %q", seed, left)
	}
}

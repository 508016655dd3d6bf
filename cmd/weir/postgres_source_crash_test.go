package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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

	seed, restores, rescales := pgKillRuns(t, srv, bin, dir, cache, func(p int) { spec(p, false) })
	if err := <-writerDone; err != nil {
		t.Fatalf("writer: %v", err)
	}
	// The last run, bounded by the table's maximum id (every row written by
	// now), at another parallelism again.
	spec(3, true)
	pgFinalRun(t, seed, srv, bin, dir, cache, "pgsrccrash")

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
		seed, pgMinKills, restores, rescales, scanned, pgSourceCrashRows, lost, dup, bad, len(left))
	if lost != 0 || dup != 0 || bad != 0 {
		t.Errorf("seed %d: the copy differs from the source table: lost %d, duplicated %d, rows that are no id %d", seed, lost, dup, bad)
	}
	if len(left) != 0 {
		t.Errorf("seed %d: prepared transactions left behind: %q", seed, left)
	}
}

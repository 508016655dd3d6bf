package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/weirstream/weir/plugins/postgres/pgtest"
)

// pgBenchRows is the number of rows each side of BenchmarkPostgres moves.
const pgBenchRows = 1_000_000

// pgBenchInSpec writes pgBenchRows generator records (key, 80-byte value)
// into table weir_in with the 2pc sink.
const pgBenchInSpec = `name: pgbenchin
parallelism: 2
checkpoint: {interval: 1s}
sources:
  - name: gen
    kind: datagen
    options: {seed: 3, count: %d, splits: 2, keys: 1000, valueBytes: 80}
sinks:
  - name: out
    kind: postgres
    from: gen
    options: {connectionEnv: WEIR_TEST_PG, table: weir_in, createTable: true, keyColumn: k, mode: 2pc}
`

// pgBenchOutSpec reads table weir_in back with the source, to a discard sink.
const pgBenchOutSpec = `name: pgbenchout
parallelism: 1
checkpoint: {interval: 1s}
sources:
  - name: rows
    kind: postgres
    options: {connectionEnv: WEIR_TEST_PG, table: weir_in_ordered, column: id, keyColumn: k, valueColumn: value, batchRows: 10000, bounded: true}
sinks:
  - name: out
    kind: discard
    from: rows
`

// BenchmarkPostgres measures, on one real server in one run, rows/s into
// PostgreSQL through a `weir run` job (generator -> 2pc sink) against a COPY
// loader (pgx CopyFrom of the same rows in one transaction), and out of it
// through a job (postgres source -> discard) against a plain SELECT scan of
// the same table, and reports the ratios. A job's time runs from its "job
// running" log line to its exit: process start and module loading are not
// counted, the final checkpoint and commit are.
//
//	go test -run '^$' -bench BenchmarkPostgres -benchtime 1x ./cmd/weir/
func BenchmarkPostgres(b *testing.B) {
	srv := pgtest.Start(b, pgtest.Options{MaxPreparedTransactions: 16})
	bin := buildWeir(b)
	cache := b.TempDir()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, srv.ConnString())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	exec := func(q string) {
		if _, err := c.Exec(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	job := func(spec string) time.Duration { return timeJob(b, bin, cache, spec, "WEIR_TEST_PG="+srv.ConnString()) }
	count := func(table string) int {
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	for b.Loop() {
		exec("DROP TABLE IF EXISTS weir_in, weir_in_ordered, copy_in")
		// Into PostgreSQL: Weir.
		weirIn := job(fmt.Sprintf(pgBenchInSpec, pgBenchRows))
		if n := count("weir_in"); n != pgBenchRows {
			b.Fatalf("the job committed %d rows, want %d", n, pgBenchRows)
		}
		// Into PostgreSQL: COPY of the rows the job wrote, read into memory
		// first so that only the load is timed.
		rows, err := c.Query(ctx, "SELECT k, value FROM weir_in")
		if err != nil {
			b.Fatal(err)
		}
		var data [][]any
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				b.Fatal(err)
			}
			data = append(data, []any{k, v})
		}
		if rows.Err() != nil {
			b.Fatal(rows.Err())
		}
		exec("CREATE TABLE copy_in (k text, value text)")
		start := time.Now()
		tx, err := c.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"copy_in"}, []string{"k", "value"}, pgx.CopyFromRows(data)); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		copyIn := time.Since(start)
		data = nil

		// Out of PostgreSQL: the source needs an increasing column.
		exec("CREATE TABLE weir_in_ordered AS SELECT row_number() OVER () AS id, k, value FROM weir_in")
		exec("ALTER TABLE weir_in_ordered ADD PRIMARY KEY (id)")
		exec("VACUUM ANALYZE weir_in_ordered")
		weirOut := job(pgBenchOutSpec)
		start = time.Now()
		rows, err = c.Query(ctx, "SELECT id, k, value FROM weir_in_ordered")
		if err != nil {
			b.Fatal(err)
		}
		scanned := 0
		for rows.Next() {
			var id int64
			var k, v string
			if err := rows.Scan(&id, &k, &v); err != nil {
				b.Fatal(err)
			}
			scanned++
		}
		if rows.Err() != nil || scanned != pgBenchRows {
			b.Fatalf("scan: %d rows, %v", scanned, rows.Err())
		}
		selectOut := time.Since(start)

		rate := func(d time.Duration) float64 { return pgBenchRows / d.Seconds() }
		b.ReportMetric(rate(weirIn), "weir-in-rows/s")
		b.ReportMetric(rate(copyIn), "copy-rows/s")
		b.ReportMetric(copyIn.Seconds()/weirIn.Seconds(), "in-ratio")
		b.ReportMetric(rate(weirOut), "weir-out-rows/s")
		b.ReportMetric(rate(selectOut), "select-rows/s")
		b.ReportMetric(selectOut.Seconds()/weirOut.Seconds(), "out-ratio")
		b.Logf("%d rows: into PostgreSQL weir %v, COPY %v; out of it weir %v, SELECT %v", pgBenchRows, weirIn, copyIn, weirOut, selectOut)
	}
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/weirstream/weir/plugins/postgres/pgtest"
)

// TestPostgresExample runs examples/postgres/job.yaml against a real server
// as its comment says: it copies the rows of orders into orders_copy, follows
// a row inserted while it runs, and stops with Ctrl-C (SIGINT). Timestamps
// keep milliseconds: a record timestamp is ms since the epoch.
func TestPostgresExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and runs a database server")
	}
	srv := pgtest.Start(t, pgtest.Options{MaxPreparedTransactions: 4})
	srv.Exec(`CREATE TABLE orders (id bigserial PRIMARY KEY, customer text, body jsonb, placed timestamptz DEFAULT now())`)
	srv.Exec(`INSERT INTO orders (customer, body) VALUES ('ann', '{"sku": 7}'), ('bob', '{"sku": 9}')`)
	spec, err := os.ReadFile("../../examples/postgres/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := weirRun(buildWeir(t), dir, t.TempDir())
	cmd.Env = append(os.Environ(), "WEIR_POSTGRES_URL="+srv.ConnString())
	running, done, stderr := startRun(t, cmd)
	select {
	case err := <-done:
		t.Fatalf("the example ended before it ran (%v):\n%s", err, stderr)
	case <-running:
	}
	ctx := context.Background()
	c := srv.Conn()
	// copied waits until orders_copy has n rows and returns them.
	copied := func(n int) []string {
		for {
			rows, err := c.Query(ctx, `SELECT customer || ' ' || body::text || ' ' || (placed = (SELECT date_trunc('milliseconds', placed) FROM orders o WHERE o.customer = c.customer))::text FROM orders_copy c ORDER BY customer`)
			var got []string
			if err == nil {
				got, err = pgx.CollectRows(rows, pgx.RowTo[string])
			}
			if err != nil && !strings.Contains(err.Error(), "does not exist") {
				t.Fatal(err)
			}
			if len(got) >= n {
				return got
			}
			select {
			case err := <-done:
				t.Fatalf("the example ended (%v) with %d rows copied, want %d:\n%s", err, len(got), n, stderr)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	want := []string{`ann {"sku": 7} true`, `bob {"sku": 9} true`}
	if got := copied(2); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("orders_copy:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	srv.Exec(`INSERT INTO orders (customer, body) VALUES ('cy', '{"sku": 1}')`)
	want = append(want, `cy {"sku": 1} true`)
	if got := copied(3); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("orders_copy after a new order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := <-done; err != nil {
		t.Fatalf("the example did not stop cleanly on SIGINT: %v\n%s", err, stderr)
	}
}

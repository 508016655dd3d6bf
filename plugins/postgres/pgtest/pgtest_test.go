package pgtest

import (
	"context"
	"testing"
)

// TestRestart starts a server, writes a row, restarts it after a simulated
// crash on the same data directory, and reads the row back.
func TestRestart(t *testing.T) {
	s := Start(t, Options{MaxPreparedTransactions: 4})
	s.Exec("CREATE TABLE t (x int)")
	s.Exec("INSERT INTO t VALUES (42)")
	s.Stop("immediate")
	s.Start()
	var x, mpt int
	c := s.Conn()
	if err := c.QueryRow(context.Background(), "SELECT x, current_setting('max_prepared_transactions')::int FROM t").Scan(&x, &mpt); err != nil {
		t.Fatal(err)
	}
	if x != 42 || mpt != 4 {
		t.Fatalf("after a restart: x = %d, max_prepared_transactions = %d; want 42 and 4", x, mpt)
	}
}

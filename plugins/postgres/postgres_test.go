package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/plugins/postgres/pgtest"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/conformance"
)

// tableSeq names a new table per subtest, so that subtests do not share
// output.
var tableSeq struct {
	sync.Mutex
	n map[string]string
}

// server returns the test's server with max_prepared_transactions mpt,
// started for t (and so stopped when t ends).
func server(t *testing.T, mpt int) *pgtest.Server {
	t.Helper()
	return pgtest.Start(t, pgtest.Options{MaxPreparedTransactions: mpt})
}

// tableFor returns the table of the (sub)test t, the same on every call.
func tableFor(t *testing.T) string {
	tableSeq.Lock()
	defer tableSeq.Unlock()
	if tableSeq.n == nil {
		tableSeq.n = map[string]string{}
	}
	if n, ok := tableSeq.n[t.Name()]; ok {
		return n
	}
	n := fmt.Sprintf("out_%d", len(tableSeq.n))
	tableSeq.n[t.Name()] = n
	return n
}

func mustSink(t testing.TB, opts string) runtime.Sink {
	t.Helper()
	s, err := NewSink(json.RawMessage(opts), "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// scan returns the values of column col of table, the output as a table
// scan reads it.
func scan(t testing.TB, srv *pgtest.Server, query string) []string {
	t.Helper()
	c, err := pgx.Connect(context.Background(), srv.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	rows, err := c.Query(context.Background(), query)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		t.Fatal(err)
	}
	vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

// prepared counts the prepared transactions on the server.
func prepared(t testing.TB, srv *pgtest.Server) int {
	t.Helper()
	return len(scan(t, srv, "SELECT gid FROM pg_prepared_xacts"))
}

func testSinkConformance(t *testing.T, mpt int, mode string) {
	srv := server(t, mpt)
	conformance.TestSink(t,
		func(t *testing.T) runtime.Sink {
			return mustSink(t, fmt.Sprintf(`{"connection":%q,"table":%q,"createTable":true,"mode":%q}`, srv.ConnString(), tableFor(t), mode))
		},
		func(t *testing.T) []string { return scan(t, srv, "SELECT value FROM "+tableFor(t)) },
		conformance.SinkOptions{RollsBack: false},
	)
	if n := prepared(t, srv); n != 0 {
		t.Errorf("%d prepared transactions left behind after the suite", n)
	}
}

// TestSink2PC runs the sink conformance suite with prepared transactions.
func TestSink2PC(t *testing.T) { testSinkConformance(t, 16, Mode2PC) }

// TestSinkStaged runs the sink conformance suite on a server with prepared
// transactions disabled, where mode auto picks staged.
func TestSinkStaged(t *testing.T) { testSinkConformance(t, 0, ModeAuto) }

// TestSinkModeDetection checks that auto picks 2pc where prepared
// transactions are enabled and that 2pc is refused where they are not.
func TestSinkModeDetection(t *testing.T) {
	ctx := context.Background()
	on := server(t, 4)
	s := mustSink(t, fmt.Sprintf(`{"connection":%q,"table":"t","createTable":true}`, on.ConnString())).(*Sink)
	if err := s.Recover(ctx, 0, nil); err != nil {
		t.Fatal(err)
	}
	if s.detected != Mode2PC {
		t.Errorf("max_prepared_transactions 4: mode auto picked %q, want 2pc", s.detected)
	}
	off := server(t, 0)
	s = mustSink(t, fmt.Sprintf(`{"connection":%q,"table":"t","createTable":true,"mode":"2pc"}`, off.ConnString())).(*Sink)
	err := s.Recover(ctx, 0, nil)
	if err == nil || !strings.Contains(err.Error(), "max_prepared_transactions = 0") {
		t.Errorf("mode 2pc on a server without prepared transactions: got %v, want an error naming max_prepared_transactions", err)
	}
}

// TestSinkColumns checks the record encoding: key, JSON value and timestamp
// columns, and a NULL timestamp for a record without one.
func TestSinkColumns(t *testing.T) {
	ctx := context.Background()
	srv := server(t, 4)
	s := mustSink(t, fmt.Sprintf(`{"connection":%q,"table":"ev","createTable":true,"keyColumn":"k","valueColumn":"doc","timestampColumn":"at","valueType":"json"}`, srv.ConnString()))
	w := conformance.StartSink(t, s)
	var b abi.Writer
	b.Append(abi.Entry{Kind: abi.KindRecord, Key: []byte("u1"), Value: []byte(`{"n": 1}`), Timestamp: 1700000000123})
	b.Append(abi.Entry{Kind: abi.KindRecord, Key: []byte("u2"), Value: []byte(`[2]`), Timestamp: abi.NoTimestamp})
	if err := w.Write(ctx, b.Bytes()); err != nil {
		t.Fatal(err)
	}
	c, err := w.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 1, [][]byte{c}); err != nil {
		t.Fatal(err)
	}
	got := scan(t, srv, `SELECT k || ' ' || doc::text || ' ' || coalesce((extract(epoch FROM at) * 1000)::bigint::text, 'null') FROM ev ORDER BY k`)
	want := []string{`u1 {"n": 1} 1700000000123`, `u2 [2] null`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	b.Reset()
	b.Append(abi.Entry{Kind: abi.KindRecord, Key: []byte("u3"), Value: []byte(`{not json`)})
	if err := w.Write(ctx, b.Bytes()); err == nil || !strings.Contains(err.Error(), `batch entry 0 (key "u3"): value: is not valid JSON`) {
		t.Errorf("a value that is not JSON: got %v, want an error naming the entry", err)
	}
}

func TestSinkOptionErrors(t *testing.T) {
	t.Setenv(DefaultConnectionEnv, "")
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"unknown option", `{"connection":"host=x","table":"t","tabel":"u"}`, []string{`unknown field "tabel"`}},
		{"table missing", `{"connection":"host=x"}`, []string{"postgres sink: option table: required"}},
		{"no connection", `{"table":"t"}`, []string{"option connectionEnv: environment variable WEIR_POSTGRES_URL is not set"}},
		{"both connections", `{"connection":"host=x","connectionEnv":"PG","table":"t"}`, []string{"option connectionEnv: give connection or connectionEnv, not both"}},
		{"bad connection", `{"connection":"postgres://weir:s3cret@x:notaport/db","table":"t"}`, []string{"option connection: the connection string does not parse"}},
		{"bad table", `{"connection":"host=x","table":"a-b"}`, []string{`option table: "a-b": name "a-b" has '-'`}},
		{"bad column", `{"connection":"host=x","table":"t","keyColumn":"1k"}`, []string{`option keyColumn: name "1k" has '1'`}},
		{"same column", `{"connection":"host=x","table":"t","keyColumn":"v","valueColumn":"v"}`, []string{`option valueColumn: "v" is also keyColumn`}},
		{"bad value type", `{"connection":"host=x","table":"t","valueType":"xml"}`, []string{`option valueType: "xml" is not one of ["text" "json" "bytes"]`}},
		{"bad mode", `{"connection":"host=x","table":"t","mode":"xa"}`, []string{`option mode: "xa" is not one of ["auto" "2pc" "staged"]`}},
		{"bad id", `{"connection":"host=x","table":"t","id":"a:b"}`, []string{`option id: "a:b" has ':'`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSink(json.RawMessage(tt.opts), "")
			if err == nil {
				t.Fatalf("no error for %s", tt.opts)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// TestSource runs the source conformance suite over a table with gaps in its
// id column, NULL keys, and both JSON-row and column values.
func TestSource(t *testing.T) {
	srv := server(t, 0)
	srv.Exec(`CREATE TABLE events (id bigint PRIMARY KEY, k text, v text, at timestamptz)`)
	srv.Exec(`INSERT INTO events SELECT i * 3, CASE WHEN i % 5 = 0 THEN NULL ELSE 'key-' || (i % 7) END, 'value-' || i, timestamptz '2025-01-01' + i * interval '1 second' FROM generate_series(1, 200) i`)
	for _, tt := range []struct{ name, opts string }{
		{"columns", `"keyColumn":"k","valueColumn":"v","timestampColumn":"at","batchRows":13`},
		{"row as JSON", `"batchRows":1000`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conformance.TestSource(t, func(t *testing.T) runtime.Source {
				s, err := NewSource(json.RawMessage(fmt.Sprintf(`{"connection":%q,"table":"events","column":"id","bounded":true,%s}`, srv.ConnString(), tt.opts)), "")
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

// TestSourceFollows checks that an unbounded reader returns rows inserted
// after it reached the end, after the poll interval.
func TestSourceFollows(t *testing.T) {
	ctx := context.Background()
	srv := server(t, 0)
	srv.Exec(`CREATE TABLE log (id bigserial PRIMARY KEY, msg text)`)
	srv.Exec(`INSERT INTO log (msg) VALUES ('a'), ('b')`)
	s, err := NewSource(json.RawMessage(fmt.Sprintf(`{"connection":%q,"table":"log","column":"id","valueColumn":"msg","pollInterval":"1ms"}`, srv.ConnString())), "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "table-log", nil, runtime.SourceEnv{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	read := func(want int) {
		for len(got) < want {
			var w abi.Writer
			n, err := r.Read(ctx, &w, 10)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			rd := abi.NewReader(w.Bytes())
			for rd.Next() {
				got = append(got, string(rd.Entry().Value))
			}
			_ = n
		}
	}
	read(2)
	srv.Exec(`INSERT INTO log (msg) VALUES ('c')`)
	read(3)
	if strings.Join(got, ",") != "a,b,c" {
		t.Errorf("read %q, want a,b,c", got)
	}
}

func TestSourceOptionErrors(t *testing.T) {
	tests := []struct{ opts, want string }{
		{`{"connection":"host=x","table":"t"}`, "postgres source: option column: required"},
		{`{"connection":"host=x","table":"t","column":"id","batchRows":-1}`, "option batchRows: -1 is not in 1..100000"},
		{`{"connection":"host=x","table":"t","column":"id","pollInterval":"soon"}`, `option pollInterval: "soon" is not a duration`},
		{`{"connection":"host=x","table":"t","column":"id","valueColumn":"v;drop"}`, `option valueColumn: name "v;drop" has ';'`},
		{`{"connection":"host=x","column":"id"}`, "option table: required"},
	}
	for _, tt := range tests {
		_, err := NewSource(json.RawMessage(tt.opts), "")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.opts, err, tt.want)
		}
	}
}

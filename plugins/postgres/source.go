package postgres

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Defaults and limits of the source.
const (
	// DefaultBatchRows is the default of batchRows: rows per query.
	DefaultBatchRows = 1000
	// maxBatchRows bounds batchRows, so that one query's rows stay a modest
	// amount of memory.
	maxBatchRows = 100_000
	// DefaultPollInterval is the default of pollInterval.
	DefaultPollInterval = time.Second
	// positionBytes is the length of a position: the last value of the
	// column seen, 8 bytes big-endian (two's complement).
	positionBytes = 8
)

// SourceOptions are the options of the postgres source in a job spec (see
// doc.go).
type SourceOptions struct {
	ConnOptions
	Table           string `json:"table"`
	Column          string `json:"column"`
	KeyColumn       string `json:"keyColumn"`
	ValueColumn     string `json:"valueColumn"`
	TimestampColumn string `json:"timestampColumn"`
	BatchRows       int    `json:"batchRows"`
	PollInterval    string `json:"pollInterval"`
	Bounded         bool   `json:"bounded"`
}

// Source reads the rows of a table in the order of a strictly increasing
// integer column, in bounded queries (see doc.go). It has one split.
type Source struct {
	cfg       *pgx.ConnConfig
	table     string
	query     string // rows after $1, $2 at most
	first     string // the first rows, $1 at most
	maxQuery  string // the column's current maximum
	batchRows int
	poll      time.Duration
	bounded   bool
}

var _ runtime.Source = (*Source)(nil)

// NewSource returns the postgres source that the JSON options opts describe.
// An unknown option or a bad value gives an error that names the option. It
// does not connect: Open does.
func NewSource(opts json.RawMessage, _ string) (runtime.Source, error) {
	var o SourceOptions
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("postgres source: %w", err)
	}
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("postgres source: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	cfg := o.ConnOptions.resolve(bad)
	if err := checkTable(o.Table); err != nil {
		bad("table", "%v", err)
	}
	if o.Column == "" {
		bad("column", "required: a strictly increasing integer column (for example a bigserial id) that orders the rows and is the position")
	} else if err := checkName(o.Column); err != nil {
		bad("column", "%v", err)
	}
	for _, c := range []struct{ option, name string }{{"keyColumn", o.KeyColumn}, {"valueColumn", o.ValueColumn}, {"timestampColumn", o.TimestampColumn}} {
		if c.name != "" {
			if err := checkName(c.name); err != nil {
				bad(c.option, "%v", err)
			}
		}
	}
	if o.BatchRows == 0 {
		o.BatchRows = DefaultBatchRows
	}
	if o.BatchRows < 1 || o.BatchRows > maxBatchRows {
		bad("batchRows", "%d is not in 1..%d", o.BatchRows, maxBatchRows)
	}
	poll := DefaultPollInterval
	if o.PollInterval != "" {
		d, err := time.ParseDuration(o.PollInterval)
		switch {
		case err != nil:
			bad("pollInterval", "%q is not a duration (like 500ms or 2s)", o.PollInterval)
		case d <= 0:
			bad("pollInterval", "%q is not positive", o.PollInterval)
		default:
			poll = d
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// The value is the value column as text, or else the whole row as a JSON
	// object (jsonb: keys sorted, so equal rows give equal values).
	value := "to_jsonb(t)::text"
	if o.ValueColumn != "" {
		value = "t." + ident(o.ValueColumn) + "::text"
	}
	key := "NULL::text"
	if o.KeyColumn != "" {
		key = "t." + ident(o.KeyColumn) + "::text"
	}
	// NB: a timestamp column of type timestamp(tz) becomes ms since the
	// epoch; an integer column is taken as ms already.
	ts := "NULL::bigint"
	if o.TimestampColumn != "" {
		c := "t." + ident(o.TimestampColumn)
		ts = fmt.Sprintf("CASE WHEN pg_typeof(%[1]s)::text LIKE 'timestamp%%' THEN floor(extract(epoch FROM %[1]s::timestamptz) * 1000)::bigint ELSE %[1]s::text::bigint END", c)
	}
	col := "t." + ident(o.Column)
	sel := fmt.Sprintf("SELECT %s::bigint, %s, %s, %s FROM %s t", col, key, value, ts, ident(o.Table))
	return &Source{
		cfg:       cfg,
		table:     o.Table,
		query:     fmt.Sprintf("%s WHERE %s > $1 ORDER BY %s LIMIT $2", sel, col, col),
		first:     fmt.Sprintf("%s ORDER BY %s LIMIT $1", sel, col),
		maxQuery:  fmt.Sprintf("SELECT max(%s)::bigint FROM %s t", col, ident(o.Table)),
		batchRows: o.BatchRows,
		poll:      poll,
		bounded:   o.Bounded,
	}, nil
}

// Splits returns the one split, named after the table.
func (s *Source) Splits(context.Context) ([]string, error) {
	return []string{"table-" + s.table}, nil
}

// Open connects and resumes after the position's value (nil: from the first
// row). A bounded source reads up to the column's maximum at Open.
func (s *Source) Open(ctx context.Context, split string, position []byte, env runtime.SourceEnv) (runtime.SplitReader, error) {
	if want := "table-" + s.table; split != want {
		return nil, fmt.Errorf("postgres source: split %q is not this source's (%q)", split, want)
	}
	r := &sourceReader{s: s, clock: env.Clock}
	if r.clock == nil {
		r.clock = runtime.SystemClock{}
	}
	if position != nil {
		if len(position) != positionBytes {
			return nil, fmt.Errorf("postgres source %s: position has %d bytes, want %d", s.table, len(position), positionBytes)
		}
		r.last, r.started = int64(binary.BigEndian.Uint64(position)), true
	}
	c, err := connect(ctx, s.cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres source %s: %w", s.table, err)
	}
	r.conn = c
	if s.bounded {
		var end *int64
		if err := c.QueryRow(ctx, s.maxQuery).Scan(&end); err != nil {
			c.Close(ctx)
			return nil, fmt.Errorf("postgres source %s: read the end (max of the column): %w", s.table, err)
		}
		r.hasEnd = true
		if end != nil {
			r.end = *end
		} else {
			r.empty = true
		}
	}
	return r, nil
}

// row is one row read ahead.
type row struct {
	pos       int64
	key       *string
	value     *string
	timestamp *int64
}

// sourceReader reads the split; rows of the last query wait in buf.
type sourceReader struct {
	s       *Source
	conn    *pgx.Conn
	clock   runtime.Clock
	started bool  // last is set
	last    int64 // the column's value of the last row returned
	hasEnd  bool  // bounded
	end     int64 // the last value a bounded reader returns
	empty   bool  // bounded, and the table was empty at Open
	buf     []row
	idle    time.Time // when an unbounded reader may query again after reaching the end
}

// Read returns rows from the read-ahead buffer, querying the next batchRows
// rows when it is empty. After a query that finds no row, an unbounded reader
// waits pollInterval before the next one (returning 0 meanwhile).
func (r *sourceReader) Read(ctx context.Context, w *abi.Writer, maxRecords int) (int, error) {
	if r.done() {
		return 0, io.EOF
	}
	if len(r.buf) == 0 {
		if now := r.clock.Now(); now.Before(r.idle) {
			time.Sleep(min(r.idle.Sub(now), time.Millisecond))
			return 0, nil
		}
		if err := r.fill(ctx); err != nil {
			return 0, err
		}
		if len(r.buf) == 0 {
			if r.hasEnd {
				// NB: rows up to end were all visible at Open, so none is
				// missing; a concurrent delete shortens the read.
				return 0, io.EOF
			}
			r.idle = r.clock.Now().Add(r.s.poll)
			return 0, nil
		}
	}
	n := 0
	for n < maxRecords && len(r.buf) > 0 {
		x := r.buf[0]
		r.buf = r.buf[1:]
		e := abi.Entry{Kind: abi.KindRecord, Timestamp: abi.NoTimestamp}
		if x.key != nil {
			e.Key = []byte(*x.key)
		}
		if x.value != nil {
			e.Value = []byte(*x.value)
		}
		if x.timestamp != nil {
			e.Timestamp = *x.timestamp
		}
		w.Append(e)
		r.last, r.started = x.pos, true
		n++
	}
	if r.done() {
		return n, io.EOF
	}
	return n, nil
}

// done reports whether a bounded reader has returned every row up to end.
func (r *sourceReader) done() bool {
	return r.hasEnd && len(r.buf) == 0 && (r.empty || r.started && r.last >= r.end)
}

// fill queries the next rows into buf.
func (r *sourceReader) fill(ctx context.Context) error {
	var rows pgx.Rows
	var err error
	if r.started {
		rows, err = r.conn.Query(ctx, r.s.query, r.last, r.s.batchRows)
	} else {
		rows, err = r.conn.Query(ctx, r.s.first, r.s.batchRows)
	}
	if err != nil {
		return fmt.Errorf("postgres source %s: query: %w", r.s.table, err)
	}
	defer rows.Close()
	prev, hasPrev := r.last, r.started
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.pos, &x.key, &x.value, &x.timestamp); err != nil {
			return fmt.Errorf("postgres source %s: %w", r.s.table, err)
		}
		if r.hasEnd && x.pos > r.end {
			break
		}
		if hasPrev && x.pos <= prev {
			return fmt.Errorf("postgres source %s: column value %d after %d: the column must be unique and increasing", r.s.table, x.pos, prev)
		}
		prev, hasPrev = x.pos, true
		r.buf = append(r.buf, x)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres source %s: query: %w", r.s.table, err)
	}
	return nil
}

// Position is the column's value of the last row returned.
func (r *sourceReader) Position() []byte {
	if !r.started {
		return nil
	}
	return binary.BigEndian.AppendUint64(make([]byte, 0, positionBytes), uint64(r.last))
}

// Close disconnects.
func (r *sourceReader) Close() error { return r.conn.Close(context.Background()) }

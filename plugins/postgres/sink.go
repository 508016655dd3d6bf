package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Sink modes and value types.
const (
	ModeAuto   = "auto"
	Mode2PC    = "2pc"
	ModeStaged = "staged"

	typeText  = "text"
	typeJSON  = "json"
	typeBytes = "bytes"
)

// Names and limits of the sink.
const (
	// gidPrefix starts every prepared-transaction id and staging tag of the
	// sink, so that they are told apart from other software's.
	gidPrefix = "weir:"
	// maxGIDBytes is PostgreSQL's limit on a prepared-transaction id
	// (GIDSIZE - 1).
	maxGIDBytes = 199
	// maxIDBytes bounds the id option, so that gids stay within maxGIDBytes.
	maxIDBytes = 64
	// stagingSuffix names the staging table of a target in staged mode.
	stagingSuffix = "_weir_staging"
	// tagColumn is the staging table's column naming the transaction of a row.
	tagColumn = "weir_tag"
	// checkpointsTable records, in staged mode, the last checkpoint each
	// subtask committed; it is in the target table's schema.
	checkpointsTable = "weir_sink_checkpoints"
	// undefinedObject is the SQLSTATE of COMMIT/ROLLBACK PREPARED for a gid
	// that is not prepared (any more).
	undefinedObject = "42704"
	// setupLockKey is the advisory lock taken while the sink creates its
	// tables, so that writers of several processes do not race on CREATE.
	setupLockKey = 0x7765697270670001 // "weirpg" 1
	// commitTimeout bounds one Commit or Recover round trip, so that a
	// server that went away fails the call (which the runtime retries)
	// rather than hanging it.
	commitTimeout = 30 * time.Second
	// closeTimeout bounds the goodbye of Close to a server that may be gone.
	closeTimeout = 5 * time.Second
)

// SinkOptions are the options of the postgres sink in a job spec (see doc.go).
type SinkOptions struct {
	ConnOptions
	Table           string `json:"table"`
	KeyColumn       string `json:"keyColumn"`
	ValueColumn     string `json:"valueColumn"`
	TimestampColumn string `json:"timestampColumn"`
	ValueType       string `json:"valueType"`
	CreateTable     bool   `json:"createTable"`
	ID              string `json:"id"`
	Mode            string `json:"mode"`
}

// Sink writes records as rows of a PostgreSQL table, exactly once, in one
// transaction per checkpoint per subtask (see doc.go for the two modes). It is
// safe for concurrent use.
type Sink struct {
	cfg       *pgx.ConnConfig
	table     string
	cols      []string // key, value, timestamp columns that are set, in that order
	keyCol    bool
	tsCol     bool
	valueType string
	create    bool
	prefix    string // gidPrefix + id + ":"
	mode      string // as configured

	mu       sync.Mutex
	conn     *pgx.Conn // for Commit and Recover; nil after an error
	detected string    // the mode in use, once known
	ready    bool      // tables created or checked
}

var _ runtime.Sink = (*Sink)(nil)

// committable is what PreCommit returns, as JSON: enough for Commit, also on
// another process after a crash.
type committable struct {
	Mode       string `json:"mode"`
	GID        string `json:"gid"` // the prepared transaction (2pc) or staging tag (staged)
	Subtask    int    `json:"subtask"`
	Checkpoint int64  `json:"checkpoint"`
}

// NewSink returns the postgres sink that the JSON options opts describe. An
// unknown option or a bad value gives an error that names the option. It does
// not connect: Recover and OpenWriter do.
func NewSink(opts json.RawMessage, _ string) (runtime.Sink, error) {
	var o SinkOptions
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("postgres sink: %w", err)
	}
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("postgres sink: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	cfg := o.ConnOptions.resolve(bad)
	if err := checkTable(o.Table); err != nil {
		bad("table", "%v", err)
	} else if last := o.Table[strings.LastIndex(o.Table, ".")+1:]; len(last)+len(stagingSuffix) > maxIdentifierBytes {
		bad("table", "%q is longer than %d bytes, too long for its staging table %s%s", o.Table, maxIdentifierBytes-len(stagingSuffix), last, stagingSuffix)
	}
	if o.ValueColumn == "" {
		o.ValueColumn = "value"
	}
	var cols []string
	seen := map[string]string{}
	for _, c := range []struct{ option, name string }{{"keyColumn", o.KeyColumn}, {"valueColumn", o.ValueColumn}, {"timestampColumn", o.TimestampColumn}} {
		if c.name == "" {
			continue
		}
		if err := checkName(c.name); err != nil {
			bad(c.option, "%v", err)
			continue
		}
		if c.name == tagColumn {
			bad(c.option, "%q is the name of the sink's staging column", c.name)
		}
		if other, ok := seen[strings.ToLower(c.name)]; ok {
			bad(c.option, "%q is also %s", c.name, other)
		}
		seen[strings.ToLower(c.name)] = c.option
		cols = append(cols, c.name)
	}
	oneOf := func(option string, v *string, allowed ...string) {
		if *v == "" {
			*v = allowed[0]
		}
		if !slices.Contains(allowed, *v) {
			bad(option, "%q is not one of %q", *v, allowed)
		}
	}
	oneOf("valueType", &o.ValueType, typeText, typeJSON, typeBytes)
	oneOf("mode", &o.Mode, ModeAuto, Mode2PC, ModeStaged)
	if o.ID == "" {
		o.ID = o.Table
	}
	if len(o.ID) > maxIDBytes {
		bad("id", "%q is longer than %d bytes", o.ID, maxIDBytes)
	}
	for _, c := range []byte(o.ID) {
		if !gidByte(c) {
			bad("id", "%q has %q; use letters, digits, '-', '_' and '.'", o.ID, c)
			break
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Sink{
		cfg: cfg, table: o.Table, cols: cols, keyCol: o.KeyColumn != "", tsCol: o.TimestampColumn != "",
		valueType: o.ValueType, create: o.CreateTable, prefix: gidPrefix + o.ID + ":", mode: o.Mode,
	}, nil
}

// staging is the staging table of staged mode: the target's name with
// stagingSuffix, in the same schema.
func (s *Sink) staging() string { return s.table + stagingSuffix }

// checkpoints is the committed-checkpoint table of staged mode.
func (s *Sink) checkpoints() string {
	if i := strings.LastIndex(s.table, "."); i >= 0 {
		return s.table[:i+1] + checkpointsTable
	}
	return checkpointsTable
}

// Close closes the control connection of Commit and Recover; the next one
// opens it again.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := s.conn.Close(ctx)
	s.conn = nil
	if err != nil {
		return fmt.Errorf("postgres sink: close the control connection: %w", err)
	}
	return nil
}

// control returns the sink's control connection, opening it if needed. The
// caller holds s.mu.
func (s *Sink) control(ctx context.Context) (*pgx.Conn, error) {
	if s.conn != nil && !s.conn.IsClosed() {
		return s.conn, nil
	}
	c, err := connect(ctx, s.cfg)
	if err != nil {
		return nil, err
	}
	s.conn = c
	return c, nil
}

// fail drops the control connection after an error, so that the next call
// (the runtime's retry) reconnects. The caller holds s.mu.
func (s *Sink) fail(err error) error {
	if s.conn != nil {
		s.conn.Close(context.Background())
		s.conn = nil
	}
	return err
}

// setup finds the mode and creates or checks the tables, once. The caller
// holds s.mu.
func (s *Sink) setup(ctx context.Context, c *pgx.Conn) error {
	if s.ready {
		return nil
	}
	var maxPrepared int
	if err := c.QueryRow(ctx, "SELECT current_setting('max_prepared_transactions')::int").Scan(&maxPrepared); err != nil {
		return fmt.Errorf("read max_prepared_transactions: %w", err)
	}
	mode := s.mode
	switch {
	case mode == ModeAuto && maxPrepared > 0:
		mode = Mode2PC
	case mode == ModeAuto:
		mode = ModeStaged
	case mode == Mode2PC && maxPrepared == 0:
		return errors.New("option mode is 2pc, but the server has max_prepared_transactions = 0 (prepared transactions disabled); set it > 0 and restart the server, or use mode staged")
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(setupLockKey)); err != nil {
		return err
	}
	if s.create {
		var defs []string
		for i, col := range s.cols {
			defs = append(defs, ident(col)+" "+s.colType(i))
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", ident(s.table), strings.Join(defs, ", "))); err != nil {
			return fmt.Errorf("create table %s: %w", s.table, err)
		}
	}
	if mode == ModeStaged {
		// NB: LIKE copies the target's column types, so that moving a row
		// to the target converts nothing.
		stmts := []string{
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (LIKE %s, %s text NOT NULL)", ident(s.staging()), ident(s.table), tagColumn),
			fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", ident(s.table[strings.LastIndex(s.table, ".")+1:]+"_weir_tag"), ident(s.staging()), tagColumn),
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (id text, subtask int, checkpoint bigint NOT NULL, PRIMARY KEY (id, subtask))", ident(s.checkpoints())),
		}
		for _, q := range stmts {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("staged mode: %s: %w", q, err)
			}
		}
	}
	// The columns must exist: a typo fails here, before any record.
	cols := make([]string, len(s.cols))
	for i, col := range s.cols {
		cols[i] = ident(col)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("SELECT %s FROM %s LIMIT 0", strings.Join(cols, ", "), ident(s.table))); err != nil {
		return fmt.Errorf("check table %s: %w", s.table, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	s.detected, s.ready = mode, true
	return nil
}

// colType is the SQL type createTable gives column i of s.cols.
func (s *Sink) colType(i int) string {
	switch {
	case s.keyCol && i == 0:
		if s.valueType == typeBytes {
			return "bytea"
		}
		return "text"
	case s.tsCol && i == len(s.cols)-1:
		return "timestamptz"
	}
	switch s.valueType {
	case typeJSON:
		return "jsonb"
	case typeBytes:
		return "bytea"
	}
	return "text"
}

// Recover commits the restored checkpoint's committables, then aborts what
// the sink left pending: in 2pc mode it rolls back every other prepared
// transaction whose gid has this sink's prefix (pg_prepared_xacts); in staged
// mode it deletes the staging rows with this sink's prefix. Output committed
// by later checkpoints stays (the sink does not roll back).
func (s *Sink) Recover(ctx context.Context, checkpointID int64, committables [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	c, err := s.control(ctx)
	if err != nil {
		return fmt.Errorf("postgres sink %s: recover: %w", s.table, err)
	}
	if err := s.setup(ctx, c); err != nil {
		return s.fail(fmt.Errorf("postgres sink %s: %w", s.table, err))
	}
	if err := s.commit(ctx, c, checkpointID, committables); err != nil {
		return s.fail(fmt.Errorf("postgres sink %s: recover to checkpoint %d: %w", s.table, checkpointID, err))
	}
	if err := s.abortPending(ctx, c); err != nil {
		return s.fail(fmt.Errorf("postgres sink %s: recover to checkpoint %d: %w", s.table, checkpointID, err))
	}
	return nil
}

// abortPending rolls back or deletes the sink's pending transactions.
func (s *Sink) abortPending(ctx context.Context, c *pgx.Conn) error {
	if s.detected == ModeStaged {
		_, err := c.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE left(%s, $2) = $1", ident(s.staging()), tagColumn), s.prefix, len(s.prefix))
		return err
	}
	rows, err := c.Query(ctx, "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND left(gid, $2) = $1", s.prefix, len(s.prefix))
	if err != nil {
		return err
	}
	gids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, gid := range gids {
		if _, err := c.Exec(ctx, "ROLLBACK PREPARED "+quote(gid)); err != nil && sqlState(err) != undefinedObject {
			return fmt.Errorf("rollback prepared %s: %w", gid, err)
		}
	}
	return nil
}

// Commit makes the committables of a complete checkpoint visible: COMMIT
// PREPARED of each gid (2pc), or the move of each tag's staging rows to the
// target (staged). It is idempotent: a gid that is no longer prepared, or a
// tag with no staging rows, was committed before.
func (s *Sink) Commit(ctx context.Context, checkpointID int64, committables [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	c, err := s.control(ctx)
	if err != nil {
		return fmt.Errorf("postgres sink %s: commit checkpoint %d: %w", s.table, checkpointID, err)
	}
	if err := s.commit(ctx, c, checkpointID, committables); err != nil {
		return s.fail(fmt.Errorf("postgres sink %s: commit checkpoint %d: %w", s.table, checkpointID, err))
	}
	return nil
}

func (s *Sink) commit(ctx context.Context, c *pgx.Conn, checkpointID int64, committables [][]byte) error {
	var staged []committable
	for i, raw := range committables {
		if len(raw) == 0 {
			continue
		}
		var k committable
		if err := json.Unmarshal(raw, &k); err != nil || !strings.HasPrefix(k.GID, gidPrefix) {
			return fmt.Errorf("committable %d is not a postgres sink's: %q", i, raw)
		}
		switch k.Mode {
		case Mode2PC:
			if _, err := c.Exec(ctx, "COMMIT PREPARED "+quote(k.GID)); err != nil && sqlState(err) != undefinedObject {
				return fmt.Errorf("commit prepared %s: %w", k.GID, err)
			}
		case ModeStaged:
			staged = append(staged, k)
		default:
			return fmt.Errorf("committable %d has mode %q", i, k.Mode)
		}
	}
	if len(staged) == 0 {
		return nil
	}
	// Staged: every tag of the checkpoint moves in one transaction, with the
	// subtasks' committed checkpoints.
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	cols := make([]string, len(s.cols))
	for i, col := range s.cols {
		cols[i] = ident(col)
	}
	list := strings.Join(cols, ", ")
	move := fmt.Sprintf("WITH moved AS (DELETE FROM %s WHERE %s = $1 RETURNING %s) INSERT INTO %s (%s) SELECT %s FROM moved",
		ident(s.staging()), tagColumn, list, ident(s.table), list, list)
	mark := fmt.Sprintf("INSERT INTO %s (id, subtask, checkpoint) VALUES ($1, $2, $3) ON CONFLICT (id, subtask) DO UPDATE SET checkpoint = greatest(%s.checkpoint, excluded.checkpoint)",
		ident(s.checkpoints()), ident(checkpointsTable))
	for _, k := range staged {
		if _, err := tx.Exec(ctx, move, k.GID); err != nil {
			return fmt.Errorf("move staged rows %s: %w", k.GID, err)
		}
		if _, err := tx.Exec(ctx, mark, strings.TrimSuffix(s.prefix[len(gidPrefix):], ":"), k.Subtask, k.Checkpoint); err != nil {
			return fmt.Errorf("record committed checkpoint: %w", err)
		}
	}
	return tx.Commit(ctx)
}

// quote makes a SQL string literal (PREPARE TRANSACTION and COMMIT PREPARED
// take no parameters).
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// sqlState is the SQLSTATE of a server error, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// OpenWriter connects the writer of one subtask.
func (s *Sink) OpenWriter(ctx context.Context, info runtime.SinkInfo) (runtime.SinkWriter, error) {
	s.mu.Lock()
	c, err := s.control(ctx)
	if err == nil {
		if err = s.setup(ctx, c); err != nil {
			err = s.fail(err)
		}
	}
	mode := s.detected
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("postgres sink %s: %w", s.table, err)
	}
	conn, err := connect(ctx, s.cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres sink %s: subtask %d: %w", s.table, info.Subtask, err)
	}
	var nonce [6]byte
	rand.Read(nonce[:])
	w := &sinkWriter{s: s, conn: conn, mode: mode, subtask: info.Subtask, label: label(info.Job + "." + info.Name), nonce: hex.EncodeToString(nonce[:])}
	w.target, w.cols = identParts(s.table), s.cols
	if mode == ModeStaged {
		w.target, w.cols = identParts(s.staging()), append(append([]string(nil), s.cols...), tagColumn)
	}
	return w, nil
}

// label makes job.sink safe and short for a gid: it is there for people
// reading pg_prepared_xacts, not for matching.
func label(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !gidByte(c) {
			b[i] = '_'
		}
	}
	return string(b[:min(len(b), 60)])
}

// gidByte reports whether c may be in a gid as it is: these need no quoting
// in SQL and are never ':', which separates the gid's parts.
func gidByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// sinkWriter writes one subtask's rows in an open transaction.
type sinkWriter struct {
	s       *Sink
	conn    *pgx.Conn
	mode    string
	subtask int
	label   string
	nonce   string // tells this writer's staging tags from an earlier one's
	seq     int    // transactions begun

	target pgx.Identifier
	cols   []string
	inTx   bool
	tag    string // staging tag of the open transaction
	rows   [][]any
	err    error // sticky: after a failed statement the transaction is gone
}

// Write adds the batch's records to the open transaction (beginning one if
// needed) with COPY.
func (w *sinkWriter) Write(ctx context.Context, batch []byte) error {
	if w.err != nil {
		return w.err
	}
	if abi.Count(batch) == 0 {
		return nil
	}
	// NB: begin first: staging rows carry the transaction's tag.
	if !w.inTx {
		if _, err := w.conn.Exec(ctx, "BEGIN"); err != nil {
			return w.failed(err)
		}
		w.inTx = true
		w.seq++
		w.tag = fmt.Sprintf("%s%d:%s-%d", w.s.prefix, w.subtask, w.nonce, w.seq)
	}
	w.rows = w.rows[:0]
	r := abi.NewReader(batch)
	for r.Next() {
		e := r.Entry()
		if e.Kind != abi.KindRecord {
			return fmt.Errorf("postgres sink %s: subtask %d: batch entry %d has kind %s; a sink takes records only", w.s.table, w.subtask, r.Index(), e.Kind)
		}
		row, err := w.row(e)
		if err != nil {
			return fmt.Errorf("postgres sink %s: subtask %d: batch entry %d (key %q): %w", w.s.table, w.subtask, r.Index(), e.Key, err)
		}
		w.rows = append(w.rows, row)
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("postgres sink %s: subtask %d: %w", w.s.table, w.subtask, err)
	}
	if len(w.rows) == 0 {
		return nil
	}
	if _, err := w.conn.CopyFrom(ctx, w.target, w.cols, pgx.CopyFromRows(w.rows)); err != nil {
		return w.failed(err)
	}
	return nil
}

// row converts a record to the column values (see doc.go, Record encoding).
func (w *sinkWriter) row(e *abi.Entry) ([]any, error) {
	s := w.s
	row := make([]any, 0, len(w.cols))
	if s.keyCol {
		k, err := s.encode(e.Key, s.valueType == typeBytes, false)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		row = append(row, k)
	}
	v, err := s.encode(e.Value, s.valueType == typeBytes, s.valueType == typeJSON)
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	row = append(row, v)
	if s.tsCol {
		if e.Timestamp == abi.NoTimestamp {
			row = append(row, nil)
		} else {
			row = append(row, time.UnixMilli(e.Timestamp).UTC())
		}
	}
	if w.mode == ModeStaged {
		row = append(row, w.tag)
	}
	return row, nil
}

// encode converts a key or value to its column value.
func (s *Sink) encode(b []byte, bytes, isJSON bool) (any, error) {
	switch {
	case bytes:
		return append([]byte(nil), b...), nil
	case isJSON:
		if !json.Valid(b) {
			return nil, errors.New("is not valid JSON (valueType json)")
		}
		return string(b), nil
	}
	if !utf8.Valid(b) {
		return nil, errors.New("is not valid UTF-8 (a text column; use valueType bytes for binary data)")
	}
	if strings.IndexByte(string(b), 0) >= 0 {
		return nil, errors.New("has a NUL byte, which a text column cannot hold (use valueType bytes)")
	}
	return string(b), nil
}

// failed makes err sticky: the transaction is aborted, so nothing after it
// may be written into it.
func (w *sinkWriter) failed(err error) error {
	w.err = fmt.Errorf("postgres sink %s: subtask %d: %w", w.s.table, w.subtask, err)
	return w.err
}

// PreCommit ends the open transaction so that it survives a crash without
// being visible: PREPARE TRANSACTION (2pc), or COMMIT of the staging rows
// (staged). With nothing written it returns nil.
func (w *sinkWriter) PreCommit(ctx context.Context, checkpointID int64) ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	if !w.inTx {
		return nil, nil
	}
	k := committable{Mode: w.mode, GID: w.tag, Subtask: w.subtask, Checkpoint: checkpointID}
	stmt := "COMMIT"
	if w.mode == Mode2PC {
		k.GID = fmt.Sprintf("%s%d:%d:%s", w.s.prefix, w.subtask, checkpointID, w.label)
		k.GID = k.GID[:min(len(k.GID), maxGIDBytes)]
		stmt = "PREPARE TRANSACTION " + quote(k.GID)
	}
	if _, err := w.conn.Exec(ctx, stmt); err != nil {
		return nil, w.failed(fmt.Errorf("pre-commit checkpoint %d: %w", checkpointID, err))
	}
	w.inTx = false
	return json.Marshal(k)
}

// Close disconnects; the server rolls back a transaction that was not
// prepared.
func (w *sinkWriter) Close() error {
	return w.conn.Close(context.Background())
}

// Package postgres is Weir's PostgreSQL connector: a sink that writes records
// as table rows exactly once, and a source that reads a table in the order of
// an increasing column. The composition root registers [NewSink] and
// [NewSource] under the kind "postgres". It uses pgx; its tests run a real
// server (package pgtest).
//
// # Connection
//
//	connection     a libpq connection string or URL (postgres://user@host:port/db).
//	connectionEnv  the environment variable that holds it instead (default
//	               WEIR_POSTGRES_URL, used when neither option is given).
//
// Prefer connectionEnv for a string with a password: errors never show the
// connection string, but a job spec is not a secret store.
//
// # Sink options
//
//	table            required: the target table, name or schema.name (letters,
//	                 digits and '_': no quoting needed).
//	keyColumn        the column of the record key (default: the key is not stored).
//	valueColumn      the column of the record value (default "value").
//	timestampColumn  the column of the record timestamp, a timestamptz (ms since
//	                 the epoch; NULL for a record without one). Default: not stored.
//	valueType        text (default: key and value must be UTF-8 without NUL),
//	                 json (the value must be JSON; for a json/jsonb column),
//	                 or bytes (key and value as bytea).
//	createTable      true: create the table if it is missing, with the columns
//	                 above (key text or bytea, value text, jsonb or bytea,
//	                 timestamp timestamptz). Otherwise it must exist.
//	id               names the sink's transactions (default: the table). Two
//	                 sinks writing the same server must have different ids:
//	                 recovery aborts every pending transaction of its id.
//	mode             auto (default), 2pc or staged; see below.
//
// # Exactly once: two modes
//
// Each sink subtask writes its records (COPY) into one open transaction per
// checkpoint.
//
// 2pc (chosen by auto when the server's max_prepared_transactions > 0): at
// the checkpoint barrier the writer runs PREPARE TRANSACTION with the gid
// "weir:<id>:<subtask>:<checkpoint>:<job>.<sink>", which is the committable.
// A prepared transaction survives a crash of Weir and of the server, but its
// rows are invisible. When the checkpoint is complete, Commit runs COMMIT
// PREPARED; a gid that is no longer prepared was committed before (Commit is
// retried, and runs again after a crash), so that is success. Recover commits
// the restored checkpoint's gids, then rolls back every other prepared
// transaction whose gid starts with "weir:<id>:" (pg_prepared_xacts): those of
// checkpoints that never completed. Readers at any isolation level see each
// checkpoint's rows of a subtask appear at once, exactly once.
//
// staged (chosen by auto when max_prepared_transactions = 0): the writer's
// transaction inserts into the staging table <table>_weir_staging (the
// target's columns plus weir_tag, the transaction's tag) and commits at the
// barrier, so the rows are durable but not in the target. Commit moves a
// checkpoint's rows from staging to the target and records each subtask's
// checkpoint in weir_sink_checkpoints (id, subtask, checkpoint), all in one
// transaction; a tag with no staging rows left was moved before, so Commit is
// idempotent. Recover commits the restored checkpoint's tags and deletes the
// staging rows of every other tag of this id. The output is the same as with
// 2pc; the cost is writing each row twice.
//
// In both modes output committed by checkpoints after the restored one stays
// (the sink does not delete rows), so a restore from an older checkpoint
// (a savepoint, or a fallback from a corrupt checkpoint) duplicates the rows
// it replays.
//
// # Source options
//
//	table            required: the table to read.
//	column           required: a unique, increasing integer column (a
//	                 bigserial id, say) that orders the rows. The position in
//	                 a checkpoint is its last value read.
//	keyColumn        the column of the record key, as text (default: no key).
//	valueColumn      the column of the record value, as text (default: the
//	                 whole row as a JSON object, keys sorted).
//	timestampColumn  a timestamp(tz) column (to ms) or an integer column of ms.
//	batchRows        rows per query, 1..100000 (default 1000).
//	pollInterval     after a query that finds no new row, the wait before the
//	                 next (default 1s).
//	bounded          true: end (io.EOF) after the column's maximum at Open.
//
// The source has one split: it runs on one subtask. Each query is
// "WHERE column > last ORDER BY column LIMIT batchRows", so an index on the
// column keeps reads bounded. The column must only grow as seen by readers: a
// row committed later with a smaller value than one already read is skipped.
// Sequence values are not that: two transactions may commit out of the order
// they took their ids. Give the column values in commit order (for example,
// insert from one writer, or take ids under a lock) or read only rows older
// than the longest transaction.
//
// # CDC
//
// Change data capture with logical replication would read every change,
// updates and deletes included, in commit order, with no requirement on the
// table. It needs: wal_level = logical on the server; a replication slot
// (pgoutput or wal2json) per job, whose confirmed LSN is advanced only after a
// checkpoint completes (the checkpoint holds the LSN, and a restore replays
// from it, so the slot must be kept while the job may restore); a publication
// for the tables; the initial snapshot exported by the slot's creation; and a
// replication-protocol client (github.com/jackc/pglogrepl). A slot that is not
// advanced keeps WAL on the server without bound, which needs monitoring.
package postgres

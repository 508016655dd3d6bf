// Package file is Weir's file connector: a source that reads files of lines or
// JSON lines, and an exactly-once sink that writes files of lines. The
// composition root registers [NewSource] and [NewSink] under the kind "file".
// Options come from the job spec as JSON; an unknown option is an error, and
// relative paths are relative to the job spec's directory.
//
// # Source
//
// Options:
//
//	path            required. A file, a directory (its regular files whose
//	                names do not start with '.', not recursive), or a glob
//	                pattern (path/filepath.Match syntax: * ? [...]). A glob
//	                that matches no regular file, or a directory without
//	                files, is an error ("no files match ...").
//	format          "lines" (default) or "jsonl".
//	keyField        jsonl only: the record key is this top-level field of
//	                each line's object. A string gives its decoded text; a
//	                number is rendered canonically (below). A missing field or
//	                another type is an error.
//	timestampField  jsonl only: the record's event time is this top-level
//	                field: a whole number of milliseconds since the Unix epoch
//	                (1735689600000 or 1.7356896e12), or an RFC 3339 string
//	                ("2025-01-01T00:00:00Z", fractions of a second are
//	                truncated to the millisecond). Missing or another type is
//	                an error.
//	maxLineBytes    the longest line accepted, in bytes without its "\n"
//	                (default 1 MiB, at most 16 MiB). A longer line is an error
//	                naming the file, the line number and its byte offset.
//
// Each matched file is one split; its id is the file's path relative to the
// job spec's directory, with forward slashes, and Splits returns them sorted.
// Files are read as they are when read: the source is bounded, and a file must
// not change while a job that reads it runs (a position that no longer falls
// at a line start is reported when the split is reopened).
//
// A line ends with "\n" or "\r\n"; neither is part of the record, so files
// written on Windows read the same as on Unix. A lone "\r" inside a line is
// kept. The last line of a file may lack its "\n". An empty file is a split
// with no records.
//
// Format lines: each line is one record; its value is the line, it has no key
// and no timestamp (abi.NoTimestamp).
//
// Format jsonl: each line is one JSON value (RFC 8259, as json.Valid checks
// it) and one record, whose value is the line as written. Blank lines (nothing
// but spaces, tabs and "\r") are skipped. Without keyField and timestampField
// any JSON value is accepted; with either, every line must be an object. An
// invalid line is an error naming the file, the line number (counted from the
// start of the file, also after a resume), the byte offset of the line, and
// what is wrong. With duplicate members, the last one counts (as in
// encoding/json).
//
// Canonical numbers (for keyField): an integer literal is kept as written, but
// "-0" becomes "0" (JSON forbids leading zeros, so integer literals are already
// canonical); any other number is parsed as a float64 and rendered as an
// integer if it is a whole number of magnitude at most 2^53 ("1.0" and "1e3"
// give "1" and "1000"), else by strconv.FormatFloat(f, 'g', -1, 64) ("0.5",
// "1.5e-07"). So the same number written differently gives the same key,
// except integer literals beyond 2^53, which are kept digit for digit.
//
// Position: 16 bytes, the big-endian byte offset of the next line followed by
// the big-endian count of lines before it (so that line numbers stay absolute
// after a resume).
//
// # Sink
//
// Options:
//
//	path    required. The output directory (created if missing).
//	format  "value" (default): one line per record, its value.
//	        "keyvalue": key, a tab, value.
//	        "json": one JSON object per line:
//	          {"key":"k","value":"v","timestamp":1735689600000}
//	        key and value are JSON strings when they are valid UTF-8; when
//	        one is not, it is standard base64 with padding and the object has
//	        "keyBase64":true or "valueBase64":true. timestamp is the event
//	        time in ms, or null for a record without one. Headers are not
//	        written.
//	prefix  the start of every file name (default "part"): letters, digits,
//	        '-', '_' and '.', not starting with '.', at most 100 bytes.
//
// Lines end with "\n". In formats value and keyvalue a record that would break
// the line structure (a value with "\n", a key with "\t" or "\n") is an error
// that names the batch entry; use format json for arbitrary bytes. A value
// ending in "\r" is written as is, but the file source reads it back without
// the "\r".
//
// Exactly once. The committed output of the sink is exactly the final files
// <path>/<prefix>-<checkpoint>-<subtask>, the checkpoint as at least 10
// decimal digits and the subtask as at least 4 (part-0000000042-0003). Readers
// must ignore the <path>/.inprogress directory and files with other names.
// The protocol:
//
//   - A writer appends to an in-progress file .inprogress/
//     <prefix>-<subtask>-<instance>-<seq>, where instance is 16 random hex
//     digits drawn when the writer opens, so a restarted job never reuses a
//     name. The file is opened at the first record after a pre-commit.
//   - PreCommit(checkpoint) flushes, fsyncs and closes the file, fsyncs the
//     .inprogress directory and returns a committable (JSON: the checkpoint,
//     subtask, in-progress and final names, byte and record counts). With
//     nothing written since the last pre-commit it returns nil and makes no
//     file, so empty checkpoints leave no empty files.
//   - Commit(checkpoint, committables) renames each in-progress file to its
//     final name and fsyncs both directories. It is idempotent: a final file
//     that exists with its in-progress file gone is already committed. When
//     both are missing the output is lost, and Commit says so. An in-progress
//     file whose size differs from the committable's is an error too.
//   - Recover(checkpoint, committables) commits those committables, deletes
//     every in-progress file of this sink (same prefix), and deletes the final
//     files of this sink whose checkpoint is greater than the restored one:
//     the restarted job writes them again. Recover(0, nil), a start from
//     nothing, therefore deletes every final file with this prefix: give each
//     job its own directory or prefix.
//   - Close deletes the in-progress file of records not yet pre-committed.
//
// A final file is complete when it appears (rename is atomic), so a reader
// that lists the directory never sees half a file. Checkpoint numbers in final
// names order the output: sorting the names by checkpoint, then subtask, gives
// a stable order.
package file

// Package console is a demo sink that prints each record as a line on standard
// output. The composition root registers [NewSink] under the kind "console";
// tests use [NewSinkTo] to print elsewhere.
//
// # Options
//
//	format  "value" (default): the record's value.
//	        "keyvalue": the key, a tab, the value.
//
// An unknown option or another format is an error that names the option.
// Bytes are printed as they are, followed by "\n"; nothing is escaped, so a
// value with a newline prints as several lines.
//
// # Not exactly once
//
// The sink prints in Write, as records arrive, and its PreCommit, Commit and
// Recover do nothing. A job that restarts from a checkpoint prints the records
// after that checkpoint again, and records of a checkpoint that never
// completed are printed all the same. Use it to watch a job, not to feed
// anything that counts: the file sink is the exactly-once one.
//
// Writers of all subtasks share the output; each Write prints its batch with
// one call, under a lock, so lines of different subtasks never interleave
// within a line.
package console

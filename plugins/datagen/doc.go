// Package datagen is a deterministic generator source: it produces the same
// records for the same options on every run, split count aside, which makes it
// the input of Weir's throughput benchmarks and of tests that compare a job's
// output across runs, crashes and parallelisms. The composition root registers
// [NewSource] under the kind "datagen".
//
// # Options
//
//	seed        an unsigned 64-bit integer (default 1).
//	count       the number of records over all splits (default 0: unbounded).
//	splits      the number of splits, 1..65536 (default 1).
//	rate        records per second over all splits (default 0: unlimited).
//	keys        the number of distinct keys, at least 1 (default 1000).
//	valueBytes  the length of each value, 0..16 MiB (default 100).
//	startTime   the timestamp of record 0: an integer of ms since the Unix
//	            epoch, or an RFC 3339 string (default 2025-01-01T00:00:00Z).
//	timeStep    ms between the timestamps of consecutive records, >= 0
//	            (default 1).
//
// An unknown option, or a bad value, is an error that names the option.
//
// # Records
//
// Record i (i = 0, 1, 2, ...; i < count when count > 0) is:
//
//	key        "key-" followed by the decimal n, where
//	           n = splitmix64(seed XOR i) mod keys
//	timestamp  startTime + i*timeStep
//	value      i as 20 decimal digits with leading zeros, then filler bytes,
//	           valueBytes bytes in all; byte j of the filler part (j >= 20,
//	           counted from the start of the value) is
//	           'a' + (splitmix64(seed + j) mod 26). With valueBytes < 20 the
//	           value is the last valueBytes digits of i.
//
// splitmix64 is the output function of SplitMix64 applied to x, in 64-bit
// unsigned arithmetic that wraps:
//
//	z := x + 0x9e3779b97f4a7c15
//	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
//	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
//	return z ^ (z >> 31)
//
// This is what next() of the reference splitmix64.c returns when its state is
// x (for x = 0: 0xe220a8397b1dcdaf). For example, with seed 1 and keys 1000,
// record 0 has key "key-465": splitmix64(1) = 0x910a2dec89025cc1, and that mod
// 1000 is 465.
//
// Split s (0 <= s < splits) produces the records i = s, s+splits, s+2*splits,
// ... in that order, so the union of the splits is exactly records 0..count-1
// whatever the number of splits, and the timestamps of a split increase by
// timeStep*splits from record to record (its watermarks are deterministic).
// Split ids are "split-<s>-of-<splits>": a checkpoint taken with another
// number of splits names splits this source does not have, so it cannot resume
// the wrong records. A position is the index i of the split's next record,
// 8 bytes big-endian. [Source.Record] returns record i directly, for tests
// that compute the output a job should commit.
//
// # Rate
//
// With rate > 0, a split opened at time t0 (by SourceEnv.Clock) has produced
// at most floor((now - t0) * rate / splits) records since it was opened. When
// it is ahead, Read sleeps at most a millisecond and returns no record, so a
// checkpoint barrier is never held up. A reopened split starts a new budget.
//
// # Cost
//
// Generating a record costs one splitmix64, one division, the formatting of
// the key number and the copy of the value into the batch: the index digits
// are updated by decimal addition of splits rather than formatted again, and
// Read allocates nothing per record.
package datagen

// Package nexmarkcompare puts Weir and Apache Flink side by side on the Nexmark
// benchmark (docs/nexmark.md, issue 4): it runs the Flink implementation of the
// queries (examples/nexmark/flink, a Java program on an embedded Flink
// MiniCluster) in a fresh JVM per run, checks that its results equal the plain
// Go reference implementation (examples/nexmark/reference) line for line, and
// measures both engines on the same events.
//
// # Equality
//
// Check runs each query through Flink on a bounded run with an output file,
// computes the reference lines from the same generator configuration, and
// reports the first differences. Optionally it checks Weir's output the same
// way (weir-nexmark -output). TestFlinkMatchesReference does this when the
// Flink jar is built and Java is on the PATH, and skips with the reason
// otherwise; `make nexmark-flink-check` builds the jar and runs the check
// (cmd/nexmark-flink-check).
//
// # Benchmark
//
// Bench runs, for each chosen query, Weir (internal/nexmarkbench's weir-nexmark
// command), then Flink with the RocksDB state backend, then Flink with the heap
// state backend, one after the other, each in a fresh process, with the same
// events, parallelism and checkpoint interval, and WriteTable prints the
// events/s, the ratios and the peak RSS of each (WriteCPUTable the events per
// CPU second, which other load on a shared machine disturbs less). A ratio is
// printed only when both runs finished; a failed run shows "failed: <reason>"
// in its cell. cmd/bench-nexmark is the command; `make bench-nexmark` runs it.
// Each command runs a copy of the jar, so that rebuilding it meanwhile cannot
// change the runs that follow.
//
// What is measured: Weir's events/s is events over the wall time of
// runtime.Run (job start to the final checkpoint's commit; Wasm compilation is
// before it). Flink's is events over the wall time of the job, from its
// submission to the already started MiniCluster to its end; the cluster's own
// start is reported separately (clusterStartMs). Neither number holds the
// start of its process (the JVM, the Go runtime). Peak RSS is each child's
// ru_maxrss, taken by the parent from wait4.
package nexmarkcompare

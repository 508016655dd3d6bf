// Package nexmarkbench is the Weir half of the Nexmark benchmark
// (docs/nexmark.md): Run runs one query through the engine as fast as it
// goes — the nexmark generator source, the query's Wasm operators, a sink
// that counts what is committed — with Pebble state, a local snapshot store
// and checkpoints, and reports events per second and peak memory.
//
// Peak memory is the process's peak resident set size (getrusage ru_maxrss),
// so it means something only when one query runs in a fresh process: the
// command cmd/weir-nexmark runs one query and prints its Result as JSON, and
// RunProcess runs that command as a child and takes the child's own peak RSS.
//
//	go run ./internal/nexmarkbench/cmd/weir-nexmark -query q5 -events 10000000
//
// With Options.Collect the sink also keeps the canonical text of every
// committed result (docs/nexmark.md §8), which is how the tests compare the
// engine's output with the reference implementation, and how a run's output
// is compared with another engine's.
package nexmarkbench

// Package jobspec reads job specs: the YAML files a user hands to
// `weir run JOBSPEC`, which name a job's sources, Wasm operators and sinks, how
// they are connected, and its parallelism, checkpoint and restart settings. The
// format is documented in docs/jobspec.md.
//
// Reading a spec takes two steps:
//
//   - Parse checks the YAML syntax, every field and its type (unknown fields
//     are errors), durations and sizes, names, and the graph: unique names,
//     inputs that name a source or operator, ports, partitionings, cycles, and
//     that every source and operator leads to a sink. It also picks the default
//     partitioning of each input (forward between equal parallelisms,
//     rebalance otherwise) and turns plugin options and operator config into
//     JSON.
//   - Build resolves source and sink kinds and operator modules through a
//     Registry, runs the plugin factories and the module loader, and returns a
//     runtime.Job with runtime.Job.WithDefaults applied and
//     runtime.Job.Validate passed.
//
// Load does both for a file, resolving relative paths against the file's
// directory.
//
// The package knows no plugin and no Wasm host: the composition root (cmd/weir)
// fills a Registry with the plugins it links and a module loader from the host.
// That keeps jobspec free of imports beyond runtime, abi and the YAML parser,
// and lets tests use fakes.
//
// Errors say where and what: each is an *Error with the file, line and column,
// the field path (like "operators[1].inputs[0].from"), what is wrong and, where
// it helps, what is allowed. Parse, Build and Load collect every error they can
// find in one pass (up to a cap) and return them joined, sorted by position.
//
// A spec is untrusted input: it is at most 1 MiB, at most 1000 nodes, and the
// JSON that options and config expand to (through YAML aliases too) is bounded;
// FuzzParse checks that no input makes Parse panic.
package jobspec

// Package server is Weir's control plane for one process: a durable module
// store and job store, the jobs it runs, and the Connect handlers of the
// weir.v1 API (runtime/api/weir/v1/weir.proto) that `weir server` serves over
// Connect, gRPC and gRPC-Web on one port.
//
// It receives everything that touches Wasm or disk formats from the composition
// root (cmd/weir): a ModuleLoader (the Wasm host), the source and sink
// factories, the state backend and a way to open snapshot stores. So it imports
// neither wazero nor Pebble, and the records it keeps are in a
// runtime.SnapshotStore (the catalog), which a cluster can back with a shared
// store instead of a local directory without changing this package's logic.
//
// The catalog holds:
//
//	modules/<hex>.wasm   a module's bytes, named by their sha256
//	modules/<hex>.json   its metadata (names, size, ABI version, time)
//	names/<name>         the digest a module name points at
//	jobs/<id>.json       a job record: spec, pinned modules, desired state
//
// Every name built from a user's string is checked against a strict pattern
// before it is used (see names.go); job files live under the data directory in
// directories named by server-made job ids only.
//
// A job's truth about which module an operator runs is its newest complete
// checkpoint's module history (runtime.Manifest.Modules): the job record only
// pins what the spec named. So a server killed in the middle of a swap resumes
// either on the old module from the checkpoint before the swap, or on the new
// one from the checkpoint that took it in, never a mix.
package server

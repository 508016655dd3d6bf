// Package pebble is Weir's production state backend: a runtime.StateBackend on
// a Pebble database (github.com/cockroachdb/pebble/v2), one per operator
// subtask, with a bounded write-back cache of hot entries in front of it and
// incremental checkpoints to a runtime.SnapshotStore.
//
// # Durability
//
// Durability comes from checkpoints in the snapshot store, never from the local
// disk. The database runs without a write-ahead log; after a crash the runtime
// restores the last complete checkpoint from the snapshot store into a fresh
// directory, and Open removes whatever an earlier instance left in
// BackendConfig.Dir. Local files are a working copy: Close deletes them.
//
// Layout of BackendConfig.Dir:
//
//	db/              the live database
//	checkpoints/N-S/ a checkpoint (id N, S-th of this instance) until its upload ends
//	restore/H/       handle H, downloaded for a rescaling restore, until copied
//
// # The state cache
//
// Every keyed record costs about two state operations (a Get and a Set), so
// they must not reach Pebble each time. The cache (cache.go) holds up to
// BackendConfig.CacheBytes (DefaultCacheBytes when 0) of entries, counting keys,
// values and a fixed per-entry overhead. Get and Set of a cached key are a map
// lookup and a copy: no allocation, no lock. Set and Delete only change the
// cache and mark the entry dirty (a Delete leaves a tombstone, and a Get that
// misses caches the absence as a clean tombstone). CLOCK eviction writes dirty
// entries back to Pebble in one batch per eviction round. Scan, DeleteRange and
// Checkpoint first write every dirty entry back, so that Pebble alone holds the
// truth while they read it; DeleteRange then turns the cached entries of the
// keys it deletes into tombstones.
//
// # Checkpoints and object names
//
// Checkpoint writes dirty entries back, flushes the memtable, and makes a
// Pebble checkpoint (hard links) in checkpoints/; the Upload it returns copies
// that directory to the store and deletes it. SSTables (and blob files) never
// change once written, so each is uploaded once, as
//
//	<Prefix>sst/<token>-<file name>       e.g. op/count/sst/3f9c0a1b2d4e5f60-000012.sst
//
// and every later checkpoint that still has it lists the same object: an
// upload copies only the SSTables written since the previous one. The small
// files that change (MANIFEST, OPTIONS, markers) are uploaded every time, as
//
//	<Prefix>meta/<token>/<checkpoint id>-<S>/<file name>
//
// The token is 64 random bits drawn by every Open, so two instances never
// choose the same name: not two subtasks sharing a Prefix, not a restore of a
// checkpoint next to the instance that wrote it, not the subtasks of a rescaled
// job. Within an instance, Pebble never reuses a file number. The SHA-256 of
// every file is computed while it is uploaded and kept in its FileRef, which
// lists every object the handle needs.
//
// NB: reusing an uploaded SSTable relies on how the runtime collects garbage:
// it deletes the objects of a dropped checkpoint unless a retained checkpoint
// references them, and sweeps orphans (objects of checkpoints that never
// completed) only while no backend runs. An SSTable that this instance reuses
// is live in its database, so every successful upload since its first one
// listed it: it is referenced by the newest completed checkpoint, or it is an
// orphan that no sweep may touch while this instance lives.
//
// # Restore
//
// A single handle with exactly the subtask's key groups (a restart with the
// same parallelism) is downloaded into db/ and opened as the database; its
// SSTables seed the set of uploaded files, so the next checkpoint is
// incremental. Otherwise (a rescale), every handle whose key groups intersect
// the subtask's is downloaded into restore/, opened read-only, and the entries
// of the intersection are copied into a new database in batches; the others
// are not downloaded. Every file is checked against the size and SHA-256 of its
// FileRef; a missing or damaged object gives an error wrapping
// runtime.ErrCorruptSnapshot that names it. A store with a Link method
// (localfs) lends SSTables by hard link instead of a copy.
//
// Pebble's own memory per subtask is bounded by named constants: the block
// cache (blockCacheBytes), inside which Pebble also reserves its memtables
// (at most maxMemTables of memTableBytes). Bloom filters on every table
// (bloomBitsPerKey), read on every level, keep a Get of a key that is not there
// (the first record of each key) off the data blocks.
package pebble

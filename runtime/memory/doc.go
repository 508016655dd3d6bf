// Package memory holds in-memory twins of the runtime's interfaces: a state
// backend, a snapshot store, a replayable source and a transactional sink. They
// behave like the real plugins (checkpoints are encoded and checksummed into the
// store, sinks commit in two phases) but keep everything in process memory, so a
// whole job — with crashes — runs in one process. The simulation test uses them;
// so can plugin authors who need a stand-in for the parts they are not testing.
package memory

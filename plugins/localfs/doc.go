// Package localfs is a runtime.SnapshotStore on a local directory: the default
// place where Weir keeps checkpoints and savepoints when no object store is
// configured (the embedded, all-in-one mode), and the store the state backend
// tests run against.
//
// An object named "a/b/c" is the file <dir>/a/b/c. Put writes the object to a
// temporary file beside its target, fsyncs it, renames it into place and fsyncs
// the directory, so a reader sees all of an object or none of it, and an object
// that Put returned for survives a crash of the machine. A Put whose reader fails
// leaves no object behind (and an object it would have replaced untouched).
//
// Names are "/"-separated paths of non-empty segments, none of which is "." or
// ".." or begins with the temporary-file prefix; anything else is rejected, so
// a name can never reach outside the directory. One limit of mapping names to
// files: "a" and "a/b" cannot both be objects.
//
// Store.Link is a fast path for a state backend on the same machine: it hard
// links an object into the backend's directory instead of copying it.
package localfs

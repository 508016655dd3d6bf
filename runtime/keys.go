package runtime

import "encoding/binary"

// State keys (the layout every StateBackend stores; documented in docs/state.md):
//
//	key group   2 bytes, big-endian
//	name length 1 byte (0 for the runtime's own namespaces, 1..255 for user states)
//	name        the state name (absent for runtime namespaces; then a namespace byte follows)
//	key length  4 bytes, big-endian
//	key         the record key
//	user key    the map-state user key (empty for value states)
//
// Putting the key group first makes a subtask's key groups one contiguous key
// range, so rescaling is a range scan. The length prefixes keep the layout
// prefix-free, so a scan of one (state, key) never reaches another.

// MaxKeyGroups bounds maxParallelism: key groups must fit in 2 bytes.
const MaxKeyGroups = 1 << 15

// namespaceTimers is the runtime namespace (after a 0 name length) of timers.
const namespaceTimers = 1

// namespaceCalls is the runtime namespace of the call journal (calls.go).
const namespaceCalls = 2

// namespaceCallExpiry is the runtime namespace of the timers that expire the
// call journal's entries (calls.go); operators never see them.
const namespaceCallExpiry = 3

// KeyGroupPrefix returns the first key of key group kg.
func KeyGroupPrefix(kg int) []byte {
	return []byte{byte(kg >> 8), byte(kg)}
}

// KeyGroupRangeBounds returns [start, end) covering every key of r.
func KeyGroupRangeBounds(r KeyGroupRange) (start, end []byte) {
	return KeyGroupPrefix(r.First), KeyGroupPrefix(r.Last + 1)
}

// KeyGroupOf returns the key group of a state key.
func KeyGroupOf(stateKey []byte) int {
	return int(binary.BigEndian.Uint16(stateKey))
}

// appendStateKey appends the state key of (kg, name, key, userKey) to dst.
func appendStateKey(dst []byte, kg int, name, key, userKey []byte) []byte {
	dst = append(dst, byte(kg>>8), byte(kg), byte(len(name)))
	dst = append(dst, name...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(key)))
	dst = append(dst, key...)
	return append(dst, userKey...)
}

// KeyGroupsFor returns the key groups subtask i of parallelism p owns out of
// maxParallelism, as Flink assigns them: contiguous ranges of nearly equal size.
func KeyGroupsFor(i, p, maxParallelism int) KeyGroupRange {
	return KeyGroupRange{First: (i*maxParallelism + p - 1) / p, Last: ((i+1)*maxParallelism - 1) / p}
}

// SubtaskFor returns the subtask (of parallelism p) that owns key group kg.
func SubtaskFor(kg, p, maxParallelism int) int { return kg * p / maxParallelism }

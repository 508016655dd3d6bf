// Package weirx wraps the Weir host functions that the Extism adapter
// (host/extism) offers to plugins, for plugins written against go-pdk. See
// docs/extism.md for the functions and their memory conventions: every
// argument and result is an i64; byte strings travel as Extism memory blocks
// (offset 0 is the empty string); results are status codes, or a block offset
// with a negative result meaning -code.
package weirx

import (
	"encoding/binary"
	"fmt"

	"github.com/extism/go-pdk"
)

//go:wasmimport extism:host/user weir_v1_state_get
func stateGet(entry, name, userKey uint64) int64

//go:wasmimport extism:host/user weir_v1_state_put
func statePut(entry, name, userKey, value uint64) int64

//go:wasmimport extism:host/user weir_v1_state_delete
func stateDelete(entry, name, userKey uint64) int64

//go:wasmimport extism:host/user weir_v1_state_clear
func stateClear(entry, name uint64) int64

//go:wasmimport extism:host/user weir_v1_state_scan
func stateScan(entry, name, start, maxBytes uint64) int64

//go:wasmimport extism:host/user weir_v1_timer_set
func timerSet(entry, kind, time uint64) int64

//go:wasmimport extism:host/user weir_v1_timer_delete
func timerDelete(entry, kind, time uint64) int64

//go:wasmimport extism:host/user weir_v1_emit
func emit(port, batch uint64) int64

//go:wasmimport extism:host/user weir_v1_cursor
func cursor(entry uint64) int64

//go:wasmimport extism:host/user weir_v1_log
func log(level, msg uint64) int64

// Status codes of abi/ABI.md §8 that plugins test for.
const (
	OK       = 0
	NotFound = 1
)

// Raw exposes the host functions without the wrappers' memory handling, for
// tests of the host's argument checks.
var Raw = struct {
	StateGet func(entry, name, userKey uint64) int64
	Cursor   func(entry uint64) int64
	Emit     func(port, batch uint64) int64
}{stateGet, cursor, emit}

// block copies b into a new Extism memory block; the empty string is offset 0.
func block(b []byte) pdk.Memory { return pdk.AllocateBytes(b) }

// read returns the bytes of the block at offset and frees it.
func read(offset uint64) []byte {
	if offset == 0 {
		return []byte{}
	}
	m := pdk.FindMemory(offset)
	b := m.ReadBytes()
	m.Free()
	return b
}

func withBlocks(f func(offsets ...uint64) int64, bs ...[]byte) int64 {
	offs := make([]uint64, len(bs))
	for i, b := range bs {
		m := block(b)
		defer m.Free()
		offs[i] = m.Offset()
	}
	return f(offs...)
}

// StateGet returns the value of user key userKey of state name for the key of
// entry, and 0, or nil and a non-zero code (NotFound when there is none).
func StateGet(entry int, name string, userKey []byte) ([]byte, int64) {
	r := withBlocks(func(o ...uint64) int64 { return stateGet(uint64(entry), o[0], o[1]) }, []byte(name), userKey)
	if r < 0 {
		return nil, -r
	}
	return read(uint64(r)), OK
}

// StatePut stores value under user key userKey of state name for the key of
// entry and returns the status code.
func StatePut(entry int, name string, userKey, value []byte) int64 {
	return withBlocks(func(o ...uint64) int64 { return statePut(uint64(entry), o[0], o[1], o[2]) }, []byte(name), userKey, value)
}

// StateDelete deletes user key userKey of state name for the key of entry.
func StateDelete(entry int, name string, userKey []byte) int64 {
	return withBlocks(func(o ...uint64) int64 { return stateDelete(uint64(entry), o[0], o[1]) }, []byte(name), userKey)
}

// StateClear deletes every user key of state name for the key of entry.
func StateClear(entry int, name string) int64 {
	return withBlocks(func(o ...uint64) int64 { return stateClear(uint64(entry), o[0]) }, []byte(name))
}

// Pair is one user key and value of a map state.
type Pair struct{ Key, Value []byte }

// StateScan returns the pairs of state name for the key of entry whose user
// keys are >= start, at most about maxBytes of them (at least one pair if any
// remain), and whether more remain.
func StateScan(entry int, name string, start []byte, maxBytes int) ([]Pair, bool, int64) {
	r := withBlocks(func(o ...uint64) int64 { return stateScan(uint64(entry), o[0], o[1], uint64(maxBytes)) }, []byte(name), start)
	if r < 0 {
		return nil, false, -r
	}
	b := read(uint64(r))
	if len(b) < 4 {
		panic(fmt.Sprintf("state_scan returned a block of %d bytes", len(b)))
	}
	more := binary.LittleEndian.Uint32(b)&1 == 1
	var pairs []Pair
	for b = b[4:]; len(b) > 0; {
		kl := binary.LittleEndian.Uint32(b)
		k := b[4 : 4+kl]
		b = b[4+kl:]
		vl := binary.LittleEndian.Uint32(b)
		pairs = append(pairs, Pair{k, b[4 : 4+vl]})
		b = b[4+vl:]
	}
	return pairs, more, OK
}

// TimerSet registers a timer of kind (1 event time, 2 processing time) at time
// ms for the key of entry.
func TimerSet(entry int, kind int, time int64) int64 {
	return timerSet(uint64(entry), uint64(kind), uint64(time))
}

// TimerDelete deletes a timer of kind at time ms for the key of entry.
func TimerDelete(entry int, kind int, time int64) int64 {
	return timerDelete(uint64(entry), uint64(kind), uint64(time))
}

// Emit hands a batch of records to output port.
func Emit(port int, batch []byte) int64 {
	return withBlocks(func(o ...uint64) int64 { return emit(uint64(port), o[0]) }, batch)
}

// Cursor tells the host which entry the plugin is working on, for its error
// reports.
func Cursor(entry int) int64 { return cursor(uint64(entry)) }

// Log writes msg to the operator's log at level (-4 debug, 0 info, 4 warn, 8
// error).
func Log(level int, msg string) int64 {
	return withBlocks(func(o ...uint64) int64 { return log(uint64(int64(level)), o[0]) }, []byte(msg))
}

//go:build unix

package host

import (
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/tetratelabs/wazero/experimental"
)

// mmapMemory is a linear memory whose maximum is reserved as address space
// with no access (mmap PROT_NONE, which costs neither memory nor commit
// charge) and whose pages are made accessible as memory.grow reaches them
// (mprotect). It never moves or copies, new pages are zero (fresh anonymous
// memory), and a page takes physical memory only when the guest first
// touches it. Free unmaps all of it.
type mmapMemory struct {
	mem       []byte // the reservation: max bytes
	committed uint64 // bytes readable and writable, from the start
	bytes     *atomic.Int64
}

// newLinearMemory returns a linear memory that may grow to max bytes and
// adds its size to bytes. Where the address space cannot be reserved (a
// 32-bit process, an mmap limit), it falls back to the Go heap.
func newLinearMemory(max uint64, bytes *atomic.Int64) experimental.LinearMemory {
	if max > 0 && max <= uint64(^uint(0)>>1) {
		mem, err := unix.Mmap(-1, 0, int(max), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON)
		if err == nil {
			return &mmapMemory{mem: mem, bytes: bytes}
		}
	}
	return &heapMemory{max: max, bytes: bytes}
}

// Reallocate makes the first size bytes accessible and returns them, or nil
// (memory.grow returns -1) past the reservation or when the OS refuses.
func (m *mmapMemory) Reallocate(size uint64) []byte {
	if m.mem == nil || size > uint64(len(m.mem)) {
		return nil
	}
	if size > m.committed {
		// NB: mprotect works on whole OS pages; sizes are whole Wasm pages
		// (64 KiB), a multiple of the OS page size on every platform Go runs on
		// with 4, 16 or 64 KiB pages.
		if err := unix.Mprotect(m.mem[m.committed:size], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return nil
		}
		m.bytes.Add(int64(size - m.committed))
		m.committed = size
	}
	// NB: the capacity ends at size: nothing may append into the pages that
	// are not accessible yet.
	return m.mem[:size:size]
}

// Free unmaps the memory; the instance must be closed. It may be called more
// than once.
func (m *mmapMemory) Free() {
	if m.mem == nil {
		return
	}
	m.bytes.Add(-int64(m.committed))
	// NB: munmap of a mapping of our own fails only for bad arguments.
	if err := unix.Munmap(m.mem); err != nil {
		panic("host: munmap of a guest memory: " + err.Error())
	}
	m.mem, m.committed = nil, 0
}

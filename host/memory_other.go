//go:build !unix

package host

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// newLinearMemory returns a linear memory that may grow to max bytes and
// adds its size to bytes. NB: without mmap it is on the Go heap and grows by
// copying, as wazero's default does: a guest at its limit may cost the host
// several times the limit until the garbage collector runs.
func newLinearMemory(max uint64, bytes *atomic.Int64) experimental.LinearMemory {
	return &heapMemory{max: max, bytes: bytes}
}

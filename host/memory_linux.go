package host

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// machineMemoryBytes returns the memory the process may use: physical
// memory, or the cgroup v2 limit (memory.max) when it is lower; 0 if unknown.
func machineMemoryBytes() int64 {
	var si syscall.Sysinfo_t
	var phys int64
	if syscall.Sysinfo(&si) == nil {
		phys = int64(si.Totalram) * int64(si.Unit)
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && (phys == 0 || n < phys) {
			return n
		}
	}
	return phys
}

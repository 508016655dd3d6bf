//go:build !linux

package host

// machineMemoryBytes returns 0: the machine's memory is not looked up
// outside Linux.
func machineMemoryBytes() int64 { return 0 }

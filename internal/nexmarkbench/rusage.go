//go:build !darwin

package nexmarkbench

// maxrssBytes converts getrusage's ru_maxrss, which Linux and the BSDs give in
// KiB, to bytes.
func maxrssBytes(maxrss int64) int64 { return maxrss * 1024 }

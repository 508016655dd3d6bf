package nexmarkbench

// maxrssBytes returns getrusage's ru_maxrss, which macOS gives in bytes.
func maxrssBytes(maxrss int64) int64 { return maxrss }

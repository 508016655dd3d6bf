package file

import (
	"path/filepath"
)

// resolve returns path relative to baseDir unless it is absolute.
func resolve(baseDir, path string) string {
	if filepath.IsAbs(path) || baseDir == "" {
		return filepath.Clean(path)
	}
	return filepath.Join(baseDir, path)
}

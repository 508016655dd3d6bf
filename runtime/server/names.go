package server

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Patterns of the user-given names that become parts of catalog object names.
var (
	moduleNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	digestRE     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	jobIDRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,79}$`)
	savepointRE  = regexp.MustCompile(`^sp-[0-9]{1,20}$`)
)

func checkModuleName(s string) error {
	if !moduleNameRE.MatchString(s) || strings.Contains(s, "..") {
		return fmt.Errorf("module name %q: want 1-63 of a-z 0-9 . _ - starting with a letter or digit, without \"..\"", short(s))
	}
	return nil
}

func checkJobID(s string) error {
	if !jobIDRE.MatchString(s) {
		return fmt.Errorf("job id %q is not a job id (1-80 of a-z 0-9 -)", short(s))
	}
	return nil
}

// checkModuleRef accepts a module name or a digest.
func checkModuleRef(s string) error {
	if digestRE.MatchString(s) {
		return nil
	}
	if strings.HasPrefix(s, "sha256:") {
		return fmt.Errorf("module digest %q: want sha256: and 64 lowercase hex digits", short(s))
	}
	if err := checkModuleName(s); err != nil {
		return fmt.Errorf("module %q is neither a digest (sha256:<hex>) nor a module name: on a server, a job spec names uploaded modules, not files", short(s))
	}
	return nil
}

func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// sandboxOptions checks the path-like options of a source or sink ("path",
// "dir") of a job submitted to the server: they must be relative, stay inside
// root after cleaning, and cross no symbolic link, so that a job spec reads and
// writes files under the server's files directory only.
func sandboxOptions(opts json.RawMessage, root string) error {
	var m map[string]any
	if err := json.Unmarshal(opts, &m); err != nil {
		return nil // the plugin reports malformed options itself
	}
	for _, k := range []string{"path", "dir"} {
		v, ok := m[k].(string)
		if !ok {
			continue
		}
		if err := checkLocalPath(root, v); err != nil {
			return fmt.Errorf("options.%s: %w", k, err)
		}
	}
	return nil
}

func checkLocalPath(root, p string) error {
	if strings.ContainsRune(p, 0) || !filepath.IsLocal(p) {
		return fmt.Errorf("%q must be a relative path inside the server's files directory (no absolute path, no \"..\")", short(p))
	}
	// NB: every existing prefix must be a plain directory or file: a symbolic
	// link could point outside root.
	cur := root
	for _, part := range strings.Split(filepath.Clean(p), string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			break // the rest does not exist yet
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%q crosses a symbolic link (%s), which the server does not follow", short(p), strings.TrimPrefix(cur, root+string(filepath.Separator)))
		}
	}
	return nil
}

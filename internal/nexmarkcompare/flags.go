package nexmarkcompare

import (
	"fmt"
	"strings"

	"github.com/weirstream/weir/examples/nexmark"
)

// ParseQueries reads a comma-separated list of query names; "all" (or
// empty) is every query of Weir's catalog. Unknown and repeated names are
// errors.
func ParseQueries(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return nexmark.Names(), nil
	}
	var qs []string
	for _, q := range strings.Split(s, ",") {
		qs = append(qs, strings.TrimSpace(q))
	}
	if err := checkQueries(qs); err != nil {
		return nil, err
	}
	return qs, nil
}

// ParseBackends reads a comma-separated list of Flink state backends
// ("rocksdb", "heap").
func ParseBackends(s string) ([]Backend, error) {
	var bs []Backend
	for _, b := range strings.Split(s, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		bs = append(bs, Backend(b))
	}
	if len(bs) == 0 {
		return nil, fmt.Errorf("no flink state backend chosen (want %s and/or %s)", RocksDB, Heap)
	}
	if err := checkBackends(bs); err != nil {
		return nil, err
	}
	return bs, nil
}

// ParseJVMArgs splits a space-separated list of JVM options.
func ParseJVMArgs(s string) []string { return strings.Fields(s) }

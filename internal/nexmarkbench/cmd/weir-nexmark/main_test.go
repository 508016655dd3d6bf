package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no query", nil, 2, "-query is required (one of q0, q1, q2, q3, q4, q5, q7, q8, q11)"},
		{"unknown flag", []string{"-querry", "q1"}, 2, "flag provided but not defined: -querry"},
		{"stray argument", []string{"-query", "q1", "extra"}, 2, `unexpected arguments ["extra"]`},
		{"unknown query", []string{"-query", "q99", "-events", "5"}, 1, `unknown nexmark query "q99"`},
		{"decimal state cache", []string{"-query", "q4", "-state-cache", "16MB"}, 2, `-state-cache: "16MB" uses a decimal unit`},
		{"bad generator", []string{"-query", "q1", "-events", "5", "-events-per-second", "0"}, 1, "option eventsPerSecond: 0 is outside 1..1000000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.err) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tc.code, tc.err)
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout %q on failure", stdout.String())
			}
		})
	}
}

// TestRunOutput runs a small native q2 and checks the JSON result and the
// output file of canonical lines.
func TestRunOutput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "q2.txt")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-query", "q2", "-events", "30000", "-native", "-checkpoint-interval", "100ms", "-output", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res struct {
		Query   string `json:"query"`
		Results int64  `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Query != "q2" || res.Results == 0 {
		t.Fatalf("stdout %q: %+v, %v", stdout.String(), res, err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); int64(n) != res.Results {
		t.Fatalf("%s has %d lines, the result says %d", out, n, res.Results)
	}
}

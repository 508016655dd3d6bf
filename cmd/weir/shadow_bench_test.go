package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shadowBenchSpec is shadowSpec at full speed, with the operator left out
// when %s is "" (the pass-through baseline) — the sink then reads the source.
const shadowBenchSpec = `name: %s
parallelism: 2
checkpoint: {interval: 300ms}
sources:
  - name: events
    kind: datagen
    parallelism: 1
    options: {seed: 7, count: %d, keys: 1000, valueBytes: 30}
%s
sinks:
  - name: out
    kind: file
    parallelism: 2
    from: %s
    options: {path: %s/out, format: keyvalue}
`

const shadowBenchOperator = `operators:
  - name: count
    module: vshadow
    inputs: [{from: events, partition: keyBy}]`

// BenchmarkShadowOverhead measures what a shadow costs the live path, in one
// `weir server`, per iteration three jobs of n records one after the other:
// without the operator (pass-through), with it, and with it shadowed by the
// same module (every record compared, all matching). It reports the
// operator's own cost per record, (T_operator - T_passthrough) / n, the
// shadow's per shadowed record, (T_shadowed - T_operator) / records the
// shadow compared, and their ratio — the target is below 2.
//
//	go test -run '^$' -bench BenchmarkShadowOverhead -benchtime 3x ./cmd/weir/
func BenchmarkShadowOverhead(b *testing.B) {
	const n = 400000
	bin := buildWeir(b)
	dir := b.TempDir()
	paths := vshadowModules(b, dir, 0)
	s := startServer(b, bin, filepath.Join(dir, "data"))
	s.mustCLI("module", "push", paths[0], "--name", "vshadow")
	run := func(name string, operator, shadow bool) (time.Duration, int64) {
		op, from := "", "events"
		if operator {
			op, from = shadowBenchOperator, "count"
		}
		p := filepath.Join(dir, name+".yaml")
		os.WriteFile(p, []byte(fmt.Sprintf(shadowBenchSpec, name, n, op, from, name)), 0o644)
		start := time.Now()
		id := strings.TrimSpace(s.mustCLI("job", "submit", p))
		if shadow {
			s.mustCLI("job", "shadow", id, "count", paths[0])
		}
		var shadowed int64
		for {
			if shadow {
				// The status is kept only while the job runs: read it until the end.
				var st shadowStatusJSON
				if json.Unmarshal([]byte(s.mustCLI("job", "shadow", id, "--status", "-o", "json")), &st) == nil && len(st.Shadows) == 1 {
					if sh := st.Shadows[0]; num(b, sh.Mismatched) != 0 || num(b, sh.Failed) != 0 {
						b.Fatalf("a shadow of the live module differs from it: %+v", sh)
					}
					shadowed = max(shadowed, num(b, st.Shadows[0].Records))
				}
			}
			j, ok := s.getJob(id)
			if ok && j.State == "JOB_STATE_FAILED" {
				b.Fatalf("job %s failed: %s", name, j.Error)
			}
			if ok && j.State == "JOB_STATE_FINISHED" {
				return time.Since(start), shadowed
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var pass, plain, shadowed time.Duration
	var compared int64
	for i := range b.N {
		d, _ := run(fmt.Sprintf("pass%d", i), false, false)
		pass += d
		d, _ = run(fmt.Sprintf("plain%d", i), true, false)
		plain += d
		d, c := run(fmt.Sprintf("shadowed%d", i), true, true)
		shadowed += d
		compared += c
	}
	if compared == 0 {
		b.Fatal("the shadow compared no records")
	}
	own := float64(plain-pass) / float64(b.N*n)
	extra := float64(shadowed-plain) / float64(compared)
	b.ReportMetric(float64(pass.Nanoseconds())/float64(b.N*n), "passthrough-ns/rec")
	b.ReportMetric(own, "operator-ns/rec")
	b.ReportMetric(extra, "shadow-ns/shadowed-rec")
	b.ReportMetric(extra/own, "shadow/operator")
	b.ReportMetric(float64(compared)/float64(b.N*n), "shadowed-fraction")
}

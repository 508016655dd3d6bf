package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/plugins/nats/natstest"
)

// BenchmarkAcksOverhead measures what ACK/NACKs cost the keyed job: per
// iteration, `weir run` of the poison job (datagen -> keyed window count,
// policy dlq -> file) at full speed, without and then with a nats ack target
// on an embedded JetStream, each in a fresh process. It reports the records
// per CPU second (user + system of the weir process) of both and their
// ratio: the target is an overhead below 15 % (ratio > 0.85). The
// broker's own CPU (in the benchmark process) is not counted.
//
//	go test -run '^$' -bench BenchmarkAcksOverhead -benchtime 3x ./cmd/weir/
func BenchmarkAcksOverhead(b *testing.B) {
	const n = 1000000
	srv := natstest.Start(b)
	bin := buildWeir(b)
	wasm, err := filepath.Abs(wasmbuild.MustGo(b, "testdata/poison"))
	if err != nil {
		b.Fatal(err)
	}
	cache := b.TempDir()
	run := func(acks bool) time.Duration {
		dir := b.TempDir()
		spec := strings.Replace(poisonSpecHead, "rate: 30000", "rate: 0", 1)
		if acks {
			spec += "acks:\n  kind: nats\n  options: {urlEnv: WEIR_TEST_NATS, stream: BENCH, subject: acks.bench, createStream: true}\n"
			srv.JetStream(b).DeleteStream(b.Context(), "BENCH") // a fresh stream per run
		}
		if err := os.WriteFile(filepath.Join(dir, "job.yaml"), fmt.Appendf(nil, spec, n, wasm, "{policy: dlq}"), 0o644); err != nil {
			b.Fatal(err)
		}
		cmd := weirRun(bin, dir, cache)
		cmd.Env = append(os.Environ(), "WEIR_TEST_NATS="+srv.URL())
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "crash finished") {
			b.Fatalf("run (acks %v): %v\n%s", acks, err, out)
		}
		return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	var without, with time.Duration
	for range b.N {
		without += run(false)
		with += run(true)
	}
	recs := float64(b.N * n)
	b.ReportMetric(recs/without.Seconds(), "rec/CPU-s-without")
	b.ReportMetric(recs/with.Seconds(), "rec/CPU-s-with-acks")
	b.ReportMetric(without.Seconds()/with.Seconds(), "with/without")
}

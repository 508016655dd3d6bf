package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/weirstream/weir/plugins/kafka/kafkatest"
)

// TestKafkaExample runs examples/kafka/job.yaml against a real broker as its
// comment says: it copies topic orders into orders-copy, follows records
// produced while it runs, and stops with Ctrl-C (SIGINT); the copy, read with
// read_committed, holds every record once, with its key.
func TestKafkaExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and runs a Kafka broker")
	}
	b := kafkatest.Start(t, kafkatest.Options{})
	b.CreateTopic(t, "orders", 3)
	b.CreateTopic(t, "orders-copy", 3)
	ctx := context.Background()
	p := b.Client(kgo.DefaultProduceTopic("orders"))
	produce := func(from, to int) []string {
		var want []string
		for i := from; i < to; i++ {
			r := &kgo.Record{Key: fmt.Appendf(nil, "customer-%d", i%7), Value: fmt.Appendf(nil, "order-%04d", i)}
			if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
			want = append(want, string(r.Key)+" "+string(r.Value))
		}
		return want
	}
	want := produce(0, 50)
	spec, err := os.ReadFile("../../examples/kafka/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := weirRun(buildWeir(t), dir, t.TempDir())
	cmd.Env = append(os.Environ(), "WEIR_KAFKA_BROKERS="+b.Addr)
	running, done, stderr := startRun(t, cmd)
	select {
	case err := <-done:
		t.Fatalf("the example ended before it ran (%v):\n%s", err, stderr)
	case <-running:
	}
	// copied waits until orders-copy has n committed records and returns them.
	copied := func(n int) []string {
		for {
			var got []string
			for _, r := range b.Committed(t, "orders-copy") {
				got = append(got, string(r.Key)+" "+string(r.Value))
			}
			if len(got) >= n {
				slices.Sort(got)
				return got
			}
			select {
			case err := <-done:
				t.Fatalf("the example ended (%v) with %d records copied, want %d:\n%s", err, len(got), n, stderr)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	slices.Sort(want)
	if got := copied(len(want)); !slices.Equal(got, want) {
		t.Fatalf("orders-copy: %d records\n%s\nwant %d", len(got), strings.Join(got, "\n"), len(want))
	}
	want = append(want, produce(50, 80)...)
	slices.Sort(want)
	if got := copied(len(want)); !slices.Equal(got, want) {
		t.Fatalf("orders-copy after new orders: %d records\n%s\nwant %d", len(got), strings.Join(got, "\n"), len(want))
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := <-done; err != nil {
		t.Fatalf("the example did not stop cleanly on SIGINT: %v\n%s", err, stderr)
	}
	// After a clean stop nothing is left open: a read_committed reader
	// reaches the end of the copy.
	if got := b.ReadCommitted(t, "orders-copy"); len(got) != len(want) {
		t.Fatalf("read_committed after the stop: %d records, want %d", len(got), len(want))
	}
}

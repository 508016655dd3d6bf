package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	weirnats "github.com/weirstream/weir/plugins/nats"
	"github.com/weirstream/weir/plugins/nats/natstest"
)

// TestNATSExample runs examples/nats/job.yaml against a real nats-server as
// its comment says: it copies the orders of both regions to subjects by
// customer, follows an order published while it runs, and stops with Ctrl-C
// (SIGINT).
func TestNATSExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and runs it against a nats-server")
	}
	srv := natstest.Start(t)
	srv.CreateStream(t, "ORDERS", "orders.*")
	js := srv.JetStream(t)
	ctx := context.Background()
	publish := func(subject, customer, body string) {
		t.Helper()
		m := nats.NewMsg(subject)
		m.Header.Set(weirnats.HeaderKey, customer)
		m.Data = []byte(body)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	publish("orders.eu", "ann", `{"sku": 7}`)
	publish("orders.us", "bob", `{"sku": 9}`)
	spec, err := os.ReadFile("../../examples/nats/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := weirRun(buildWeir(t), dir, t.TempDir())
	cmd.Env = append(os.Environ(), "WEIR_NATS_URL="+srv.URL())
	running, done, stderr := startRun(t, cmd)
	select {
	case err := <-done:
		t.Fatalf("the example ended before it ran (%v):\n%s", err, stderr)
	case <-running:
	}
	// copied waits until ORDERS_BY_CUSTOMER has n messages and returns them
	// as "subject body", sorted.
	copied := func(n int) []string {
		for {
			var got []string
			for _, m := range srv.Messages(t, "ORDERS_BY_CUSTOMER") {
				got = append(got, m.Subject()+" "+string(m.Data()))
			}
			if len(got) >= n {
				slices.Sort(got)
				return got
			}
			select {
			case err := <-done:
				t.Fatalf("the example ended (%v) with %d messages copied, want %d:\n%s", err, len(got), n, stderr)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	want := []string{`bycustomer.ann {"sku": 7}`, `bycustomer.bob {"sku": 9}`}
	if got := copied(2); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ORDERS_BY_CUSTOMER:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	publish("orders.eu", "cy", `{"sku": 1}`)
	want = append(want, `bycustomer.cy {"sku": 1}`)
	if got := copied(3); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ORDERS_BY_CUSTOMER after a new order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := <-done; err != nil {
		t.Fatalf("the example did not stop cleanly on SIGINT: %v\n%s", err, stderr)
	}
}

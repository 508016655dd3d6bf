package natskv_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/plugins/nats/natskv"
	"github.com/weirstream/weir/plugins/nats/natstest"
	"github.com/weirstream/weir/runtime/coord"
	"github.com/weirstream/weir/runtime/coord/coordtest"
)

// TestConformance runs coord's conformance suite on a real JetStream bucket
// (a fresh bucket per test, on one embedded server).
func TestConformance(t *testing.T) {
	srv := natstest.Start(t)
	js := srv.JetStream(t)
	var n atomic.Int64
	coordtest.Run(t, func(t *testing.T) coord.KV {
		kv, err := natskv.Open(context.Background(), js, natskv.Options{Bucket: fmt.Sprintf("coord-%d", n.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		return kv
	})
}

// TestFailoverRealClock runs two JobManager candidates on the wall clock
// against a real server, kills the leader's ticking, and waits (without a
// timed assertion: any time up to the deadline passes) for the standby to
// take over with the next epoch, and checks that the deposed epoch is fenced.
func TestFailoverRealClock(t *testing.T) {
	const (
		lease    = 600 * time.Millisecond
		deadline = 60 * time.Second
	)
	ctx := context.Background()
	srv := natstest.Start(t)
	kv, err := natskv.Open(ctx, srv.JetStream(t), natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var es []*coord.Elector
	stops := []chan struct{}{make(chan struct{}), make(chan struct{})}
	for i := range 2 {
		e, err := coord.NewElector(kv, coord.ElectionConfig{Candidate: fmt.Sprintf("jm-%d", i), Lease: lease})
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
		go func() {
			tick := time.NewTicker(lease / 4)
			defer tick.Stop()
			for {
				if _, err := e.Tick(ctx); err != nil {
					t.Log(err)
				}
				select {
				case <-stops[i]:
					return
				case <-tick.C:
				}
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for end := time.Now().Add(deadline); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("no %s after %v", what, deadline)
			}
		}
	}
	leader := -1
	waitFor("leader", func() bool {
		for i, e := range es {
			if _, ok := e.Leading(); ok {
				leader = i
				return true
			}
		}
		return false
	})
	old, _ := es[leader].Leading()
	cat := coord.NewCatalog(kv)
	if err := cat.Complete(ctx, old, coord.Checkpoint{Job: "job-1", ID: 1}); err != nil {
		t.Fatal(err)
	}
	standby := 1 - leader
	defer close(stops[standby])
	close(stops[leader])
	var ep coord.Epoch
	waitFor("takeover by the standby", func() bool {
		var ok bool
		ep, ok = es[standby].Leading()
		return ok
	})
	if ep != old+1 {
		t.Fatalf("new epoch %d, want %d", ep, old+1)
	}
	if _, ok := es[leader].Leading(); ok {
		t.Fatal("the stopped leader still believes it leads after the takeover")
	}
	if err := cat.Complete(ctx, old, coord.Checkpoint{Job: "job-1", ID: 2}); err == nil {
		t.Fatal("the deposed leader completed a checkpoint")
	}
	if _, err := cat.Fence(ctx, "job-1", ep); err != nil {
		t.Fatal(err)
	}
	if err := cat.Complete(ctx, ep, coord.Checkpoint{Job: "job-1", ID: 2}); err != nil {
		t.Fatal(err)
	}
}

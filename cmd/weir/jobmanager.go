package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	weirnats "github.com/weirstream/weir/plugins/nats"
	"github.com/weirstream/weir/plugins/nats/natskv"
	"github.com/weirstream/weir/runtime/coord"
)

// defaultJobManagerLease is the default leader lease of `weir jobmanager`: a
// standby takes over about this long after the leader dies.
const defaultJobManagerLease = 5 * time.Second

// errLostLeadership is the cause of a leader's context ending because its
// lease ran out (it could not renew, or another JobManager took over).
var errLostLeadership = errors.New("jobmanager: lost leadership (lease not renewed); exiting so that a restart stands by")

// jobmanagerFlags are the flags `weir jobmanager` adds to those of `weir
// server`.
type jobmanagerFlags struct {
	id    string
	lease time.Duration
}

func (f *jobmanagerFlags) register(fs *flag.FlagSet) {
	host, _ := os.Hostname()
	if !idOK(host) {
		host = "jobmanager"
	}
	fs.StringVar(&f.id, "id", envOr("WEIR_JOBMANAGER_ID", host), "this JobManager's id among the candidates for leader, 1-64 of a-z A-Z 0-9 _ - (env WEIR_JOBMANAGER_ID; default the host name)")
	fs.DurationVar(&f.lease, "lease", defaultJobManagerLease, "leader lease: a standby takes over after seeing the leader silent this long")
}

func idOK(s string) bool {
	_, err := coord.NewElector(new(coord.MemKV), coord.ElectionConfig{Candidate: s, Lease: time.Second})
	return err == nil
}

// leadership is a JobManager's term as leader.
type leadership struct {
	// ctx ends (with cause errLostLeadership) when the lease runs out.
	ctx context.Context
	// fence presents the term's epoch to the checkpoint catalog in the
	// coordination bucket before any checkpoint of its jobs completes, so
	// that once a standby has taken over, this JobManager's jobs can neither
	// complete a checkpoint nor commit a sink (docs/RATIONALE.md, "Why NATS
	// KV compare-and-swap and epoch fencing for coordination?").
	fence coord.Fence
	// stop resigns: call it after the jobs have stopped.
	stop func()
}

// lead takes part in the leader election in the coordination bucket of the
// NATS server at url, and returns once this JobManager leads.
func (f *jobmanagerFlags) lead(ctx context.Context, url string, log *slog.Logger) (*leadership, error) {
	if !idOK(f.id) {
		return nil, fmt.Errorf("%w: -id %q: the candidate id must be 1-64 of a-z A-Z 0-9 _ -", errUsage, f.id)
	}
	if f.lease <= 0 {
		return nil, fmt.Errorf("%w: -lease %v: want > 0", errUsage, f.lease)
	}
	nc, js, err := weirnats.Connect(url, "weir jobmanager "+f.id)
	if err != nil {
		return nil, fmt.Errorf("jobmanager: %w", err)
	}
	kv, err := natskv.Open(ctx, js, natskv.Options{})
	var e *coord.Elector
	if err == nil {
		e, err = coord.NewElector(kv, coord.ElectionConfig{Candidate: f.id, Lease: f.lease})
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jobmanager: %w", err)
	}
	interval := f.lease / 4
	log.Info("jobmanager standing by", "id", f.id, "lease", f.lease)
	var epoch coord.Epoch
	for {
		st, err := e.Tick(ctx)
		if err != nil {
			log.Warn("jobmanager: election", "err", err)
		}
		if st.Self {
			log.Info("jobmanager leads", "id", f.id, "epoch", st.Epoch)
			epoch = st.Epoch
			break
		}
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, ctx.Err()
		case <-time.After(interval):
		}
	}
	lctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			if _, err := e.Tick(lctx); err != nil && lctx.Err() == nil {
				log.Warn("jobmanager: renew lease", "err", err)
			}
			if _, ok := e.Leading(); !ok {
				cancel(errLostLeadership)
				return
			}
		}
	}()
	stop := func() {
		cancel(nil)
		<-done
		rctx, rcancel := context.WithTimeout(context.Background(), f.lease)
		defer rcancel()
		if err := e.Resign(rctx); err != nil {
			log.Warn("jobmanager: resign", "err", err)
		}
		nc.Close()
	}
	return &leadership{ctx: lctx, fence: coord.Fence{Catalog: coord.NewCatalog(kv), Epoch: epoch}, stop: stop}, nil
}

package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/weirstream/weir/runtime"
)

// AckOptions are the options of a job's nats ack target (the spec's acks
// field with kind nats; see doc.go).
type AckOptions struct {
	ConnOptions
	Stream       string `json:"stream"`
	Subject      string `json:"subject"`
	CreateStream bool   `json:"createStream"`
	Batch        int    `json:"batch"`
}

// DefaultAckBatch is how many messages' statuses one stream message holds
// by default (runtime.DefaultAckBatch).
const DefaultAckBatch = runtime.DefaultAckBatch

// Acks publishes the final statuses of a job's input messages to a
// JetStream stream, each stream message a runtime.AckBatch (as JSON) of at
// most batch messages of one split, cut at multiples of batch, with the
// piece's stable id (AckBatch.ID) as its Nats-Msg-Id: the runtime delivers a
// restored checkpoint's statuses again after a crash, and the stream's
// duplicate window drops the repeats, so the stream holds exactly one status
// per input message. It is safe for concurrent use.
type Acks struct {
	url, stream, subject string
	create               bool
	batch                uint64

	mu     sync.Mutex
	nc     *nats.Conn
	js     jetstream.JetStream
	timing runtime.JobTiming
	ready  bool
}

var (
	_ runtime.AckSink     = (*Acks)(nil)
	_ runtime.TimingAware = (*Acks)(nil)
)

// NewAcks returns the nats ack target that the JSON options opts describe.
// It does not connect: the first Deliver does.
func NewAcks(opts json.RawMessage, _ string) (runtime.AckSink, error) {
	var o AckOptions
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("nats acks: %w", err)
	}
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("nats acks: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	url := o.ConnOptions.resolve(bad)
	if err := checkToken(o.Stream); err != nil {
		bad("stream", "%v", err)
	}
	if err := checkSubject(o.Subject, false); err != nil {
		bad("subject", "%v", err)
	}
	batch, err := runtime.AckBatchSize(o.Batch)
	if err != nil {
		bad("batch", "%v", err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Acks{url: url, stream: o.Stream, subject: o.Subject, create: o.CreateStream, batch: batch}, nil
}

// SetJobTiming takes the job's timing, against which the first Deliver
// checks the stream's duplicate window.
func (a *Acks) SetJobTiming(t runtime.JobTiming) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.timing = t
}

// Deliver publishes the statuses and waits until the stream stored them all.
func (a *Acks) Deliver(ctx context.Context, batches []runtime.AckBatch) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	js, err := a.control(ctx)
	if err != nil {
		return fmt.Errorf("nats acks: %w", err)
	}
	var pending []jetstream.PubAckFuture
	publish := func(b runtime.AckBatch, body []byte) error {
		msg := nats.NewMsg(a.subject)
		msg.Data = body
		msg.Header.Set(jetstream.MsgIDHeader, b.ID())
		f, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(publishStallWait), jetstream.WithExpectStream(a.stream))
		if err != nil {
			return fmt.Errorf("publish %s: %w", b.ID(), err)
		}
		pending = append(pending, f)
		return nil
	}
	if err := runtime.AckPieces(batches, a.batch, maxStagedBytes, publish); err != nil {
		return fmt.Errorf("nats acks: %w", err)
	}
	if _, err := awaitAcks(ctx, pending); err != nil {
		return fmt.Errorf("nats acks: %w", err)
	}
	return nil
}

// control returns the connection, opening it and checking (or creating) the
// stream if needed. The caller holds a.mu.
func (a *Acks) control(ctx context.Context) (jetstream.JetStream, error) {
	if a.nc == nil || a.nc.IsClosed() {
		nc, js, err := Connect(a.url, "weir acks "+a.stream)
		if err != nil {
			return nil, err
		}
		a.nc, a.js = nc, js
	}
	if a.ready {
		return a.js, nil
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	st, err := a.js.Stream(ctx, a.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) && a.create {
		st, err = a.js.CreateStream(ctx, jetstream.StreamConfig{Name: a.stream, Subjects: []string{a.subject}, Storage: jetstream.FileStorage, Duplicates: max(defaultDuplicates, RecoveryWindow(a.timing))})
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s (option stream): %w", a.stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s: info: %w", a.stream, err)
	}
	if need := RecoveryWindow(a.timing); info.Config.Duplicates < need {
		return nil, fmt.Errorf("stream %s (option stream): its duplicate window (duplicate_window) is %v, shorter than the %v a delivery may take to be repeated after a crash: a message could then get its status twice; raise the stream's duplicate_window to at least %v",
			a.stream, info.Config.Duplicates, need, need)
	}
	a.ready = true
	return a.js, nil
}

// Close closes the connection; the next Deliver opens one again.
func (a *Acks) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.nc != nil {
		a.nc.Close()
		a.nc, a.js, a.ready = nil, nil, false
	}
	return nil
}

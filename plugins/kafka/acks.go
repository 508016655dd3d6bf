package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/weirstream/weir/runtime"
)

// AckOptions are the options of a job's kafka ack target (the spec's acks
// field with kind kafka; see doc.go).
type AckOptions struct {
	ConnOptions
	// Batch is how many messages' statuses one record holds at most
	// (default DefaultAckBatch).
	Batch int `json:"batch"`
	// CreateTopic creates the topic, compacted, if it is missing.
	CreateTopic bool `json:"createTopic"`
}

// Ack target limits and defaults.
const (
	// DefaultAckBatch is how many messages' statuses one record holds by
	// default (runtime.DefaultAckBatch, as in the nats target).
	DefaultAckBatch = runtime.DefaultAckBatch
	// maxAckRecordBytes bounds a record's JSON (pieces with long NACK errors
	// are halved), well below the broker's default message.max.bytes (1 MiB).
	maxAckRecordBytes = 256 << 10
	// ackDeliverTimeout bounds one Deliver: past it the attempt fails and the
	// restarted job delivers again.
	ackDeliverTimeout = 2 * time.Minute
)

// Acks produces the final statuses of a job's input messages to a topic,
// each record a runtime.AckBatch (as JSON, the format of the nats target) of
// at most batch messages of one split, cut at multiples of batch, with the
// piece's stable id (AckBatch.ID) as its key.
//
// NB: the topic holds at-least-once copies. The runtime delivers a restored
// checkpoint's statuses again after a crash (same pieces, same keys), and
// Kafka cannot drop a record because an earlier producer wrote the same key:
// the idempotent producer only drops its own retries. A consumer gets exactly
// one status per message by keeping one record per key (the topic is
// compacted when createTopic makes it, so the broker converges to that too);
// see docs/RATIONALE.md. It is safe for concurrent use.
type Acks struct {
	brokers []string
	topic   string
	create  bool
	batch   uint64

	mu    sync.Mutex
	cl    *kgo.Client
	ready bool // the topic is known to exist
}

var _ runtime.AckSink = (*Acks)(nil)

// NewAcks returns the kafka ack target that the JSON options opts describe.
// An unknown option or a bad value gives an error that names the option. It
// does not connect: the first Deliver does.
func NewAcks(opts json.RawMessage, _ string) (runtime.AckSink, error) {
	var o AckOptions
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("kafka acks: %w", err)
	}
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("kafka acks: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	brokers := o.ConnOptions.resolve(bad)
	batch, err := runtime.AckBatchSize(o.Batch)
	if err != nil {
		bad("batch", "%v", err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Acks{brokers: brokers, topic: o.Topic, create: o.CreateTopic, batch: batch}, nil
}

// Deliver produces the statuses and waits until the broker has stored them
// all (acks=all).
func (a *Acks) Deliver(ctx context.Context, batches []runtime.AckBatch) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, ackDeliverTimeout)
	defer cancel()
	cl, err := a.client(ctx)
	if err != nil {
		return fmt.Errorf("kafka acks: %w", err)
	}
	var (
		wg     sync.WaitGroup
		failMu sync.Mutex
		failed error
	)
	produce := func(b runtime.AckBatch, body []byte) error {
		wg.Add(1)
		id := b.ID()
		cl.Produce(ctx, &kgo.Record{Key: []byte(id), Value: body}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				failMu.Lock()
				defer failMu.Unlock()
				if failed == nil {
					failed = fmt.Errorf("produce %s to topic %s: %w", id, a.topic, err)
				}
			}
		})
		return nil
	}
	err = runtime.AckPieces(batches, a.batch, maxAckRecordBytes, produce)
	// NB: wait for every promise even when cutting failed: they use ctx and
	// the client, which outlive this call only until then.
	wg.Wait()
	if err != nil {
		return fmt.Errorf("kafka acks: %w", err)
	}
	if failed != nil {
		return fmt.Errorf("kafka acks: %w", failed)
	}
	return nil
}

// client returns the producer, opening it and checking (or creating) the
// topic if needed. The caller holds a.mu.
func (a *Acks) client(ctx context.Context) (*kgo.Client, error) {
	if a.cl == nil {
		// The idempotent producer (franz-go's default) with acks=all: a
		// retried produce is not written twice, and an acknowledged record
		// is on every in-sync replica.
		cl, err := kgo.NewClient(append(clientOpts(a.brokers), kgo.DefaultProduceTopic(a.topic), kgo.RequiredAcks(kgo.AllISRAcks()))...)
		if err != nil {
			return nil, err
		}
		a.cl = cl
	}
	if a.ready {
		return a.cl, nil
	}
	adm := kadm.NewClient(a.cl)
	td, err := adm.ListTopics(ctx, a.topic)
	if err != nil {
		return nil, fmt.Errorf("topic %s (option topic): list: %w", a.topic, err)
	}
	d, ok := td[a.topic]
	switch {
	case ok && d.Err == nil:
	case (!ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition)) && a.create:
		// -1: the broker's num.partitions and default.replication.factor.
		compact := "compact"
		_, err := adm.CreateTopic(ctx, -1, -1, map[string]*string{"cleanup.policy": &compact}, a.topic)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return nil, fmt.Errorf("topic %s (option createTopic): create: %w", a.topic, err)
		}
	case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
		return nil, fmt.Errorf("topic %s (option topic) does not exist: create it (compacted: cleanup.policy=compact), or set option createTopic: true", a.topic)
	default:
		return nil, fmt.Errorf("topic %s (option topic): %w", a.topic, d.Err)
	}
	a.ready = true
	return a.cl, nil
}

// Close closes the producer; the next Deliver opens one again.
func (a *Acks) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cl != nil {
		a.cl.Close()
		a.cl, a.ready = nil, false
	}
	return nil
}

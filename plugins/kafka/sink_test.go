package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/plugins/kafka/kafkatest"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/conformance"
)

// topics names a new topic per subtest, so that subtests do not share
// output; each is created on first use.
type topics struct {
	sync.Mutex
	b *kafkatest.Broker
	n map[string]string
}

func (ts *topics) of(t *testing.T) string {
	ts.Lock()
	defer ts.Unlock()
	if ts.n == nil {
		ts.n = map[string]string{}
	}
	if n, ok := ts.n[t.Name()]; ok {
		return n
	}
	n := fmt.Sprintf("out-%d", len(ts.n))
	ts.b.CreateTopic(t, n, 3)
	ts.n[t.Name()] = n
	return n
}

func mustSink(t testing.TB, opts string) *Sink {
	t.Helper()
	s, err := NewSink(json.RawMessage(opts), "")
	if err != nil {
		t.Fatal(err)
	}
	return s.(*Sink)
}

// values returns the record values of topic that a read_committed consumer
// reads, up to the end (it fails if an open transaction blocks the end).
func values(t testing.TB, b *kafkatest.Broker, topic string) []string {
	t.Helper()
	var vs []string
	for _, r := range b.Committed(t, topic) {
		vs = append(vs, string(r.Value))
	}
	return vs
}

// openTransactions lists the transactions in state Ongoing whose ids start
// with prefix.
func openTransactions(t testing.TB, b *kafkatest.Broker, prefix string) []string {
	t.Helper()
	txns, err := kadm.NewClient(b.Client()).ListTransactions(context.Background(), nil, []string{"Ongoing"})
	if err != nil {
		t.Fatal(err)
	}
	var open []string
	for _, x := range txns.Sorted() {
		if strings.HasPrefix(x.TxnID, prefix) {
			open = append(open, x.TxnID)
		}
	}
	return open
}

// TestSinkConformance runs the sink conformance suite against a real broker,
// reading back with read_committed; no transaction of the sink may be left
// open.
func TestSinkConformance(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.Options{})
	ts := &topics{b: b}
	conformance.TestSink(t,
		func(t *testing.T) runtime.Sink {
			topic := ts.of(t)
			return mustSink(t, fmt.Sprintf(`{"brokers":[%q],"topic":%q,"transactionalIdPrefix":"conf-%s"}`, b.Addr, topic, topic))
		},
		func(t *testing.T) []string { return values(t, b, ts.of(t)) },
		conformance.SinkOptions{RollsBack: false},
	)
	if open := openTransactions(t, b, "conf-"); len(open) > 0 {
		t.Errorf("open transactions left behind after the suite: %q", open)
	}
}

// TestSinkTimeoutChecks checks the two transaction-timeout checks: BindJob
// against the job's checkpoint and restart settings, and Recover against the
// broker's transaction.max.timeout.ms; both name the option.
func TestSinkTimeoutChecks(t *testing.T) {
	job := &runtime.Job{Name: "j", Checkpoint: runtime.CheckpointConfig{Interval: time.Minute, Timeout: 10 * time.Minute}, Restart: runtime.RestartConfig{Delay: time.Second}}
	s := mustSink(t, `{"brokers":["h:1"],"topic":"t","transactionTimeout":"5m"}`)
	err := s.BindJob(job, "out")
	if err == nil || !strings.Contains(err.Error(), "option transactionTimeout: 5m0s is not longer than checkpoint.interval 1m0s + checkpoint.timeout 10m0s + restart.delay 1s = 11m1s") {
		t.Errorf("BindJob with 5m against 11m1s: %v", err)
	}
	s = mustSink(t, `{"brokers":["h:1"],"topic":"t"}`)
	if err := s.BindJob(job, "out"); err != nil {
		t.Errorf("BindJob with the default 15m: %v", err)
	}
	if s.prefix != "weir-j-out" {
		t.Errorf("default prefix %q, want weir-j-out", s.prefix)
	}

	b := kafkatest.Start(t, kafkatest.Options{Props: map[string]string{"transaction.max.timeout.ms": "60000"}})
	s = mustSink(t, fmt.Sprintf(`{"brokers":[%q],"topic":"t","transactionTimeout":"2m","transactionalIdPrefix":"x"}`, b.Addr))
	err = s.Recover(context.Background(), 0, nil)
	if err == nil || !strings.Contains(err.Error(), "option transactionTimeout: 2m0s is longer than the broker's transaction.max.timeout.ms (1m0s)") {
		t.Errorf("Recover with 2m against a broker's 1m: %v", err)
	}
}

// TestSinkOptionErrors checks that bad options are rejected with errors
// that name the option.
func TestSinkOptionErrors(t *testing.T) {
	for _, c := range []struct{ opts, want string }{
		{`{"brokers":["h:1"],"topic":"t","transactionTimeout":"soon"}`, "option transactionTimeout: \"soon\" is not a duration"},
		{`{"brokers":["h:1"],"topic":"t","transactionTimeout":"1500us"}`, "option transactionTimeout: 1.5ms is not a whole number of milliseconds"},
		{`{"brokers":["h:1"],"topic":"t","transactionalIdPrefix":"a b"}`, "option transactionalIdPrefix: \"a b\" has ' '"},
		{`{"brokers":["h:1"]}`, "option topic: required"},
	} {
		_, err := NewSink(json.RawMessage(c.opts), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSink(%s): error %v, want one containing %q", c.opts, err, c.want)
		}
	}
	s := mustSink(t, `{"brokers":["h:1"],"topic":"t"}`)
	if err := s.Recover(context.Background(), 0, nil); err == nil || !strings.Contains(err.Error(), "option transactionalIdPrefix: required") {
		t.Errorf("Recover of an unbound sink without a prefix: %v", err)
	}
}

// TestSinkAbortedTransactionIsOutputLost checks that committing a
// transaction the broker aborted (it stayed open past transactionTimeout)
// fails with runtime.ErrOutputLost, which stops the job instead of
// restarting it into the same refusal, and that nothing of it is visible.
func TestSinkAbortedTransactionIsOutputLost(t *testing.T) {
	ctx := context.Background()
	// The broker looks for timed-out transactions every 500 ms (default 10 s).
	b := kafkatest.Start(t, kafkatest.Options{Props: map[string]string{"transaction.abort.timed.out.transaction.cleanup.interval.ms": "500"}})
	b.CreateTopic(t, "lost", 1)
	s := mustSink(t, fmt.Sprintf(`{"brokers":[%q],"topic":"lost","transactionTimeout":"1s","transactionalIdPrefix":"lost"}`, b.Addr))
	w := conformance.StartSink(t, s)
	var batch abi.Writer
	for i := range 10 {
		batch.Append(abi.Entry{Kind: abi.KindRecord, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := w.Write(ctx, batch.Bytes()); err != nil {
		t.Fatal(err)
	}
	c, err := w.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the broker has aborted it: no Ongoing transaction left.
	for deadline := time.Now().Add(30 * time.Second); len(openTransactions(t, b, "lost")) > 0; {
		if time.Now().After(deadline) {
			t.Fatal("the broker did not abort the transaction within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	err = s.Commit(ctx, 1, [][]byte{c})
	if !errors.Is(err, runtime.ErrOutputLost) {
		t.Fatalf("Commit of an aborted transaction: %v, want one that wraps runtime.ErrOutputLost", err)
	}
	if !strings.Contains(err.Error(), "can no longer be committed") {
		t.Errorf("error %q does not say the transaction can no longer be committed", err)
	}
	if got := values(t, b, "lost"); len(got) != 0 {
		t.Errorf("read_committed reads %d records of an aborted transaction, want 0", len(got))
	}
}

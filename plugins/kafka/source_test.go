package kafka

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/plugins/kafka/kafkatest"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/conformance"
)

func mustSource(t testing.TB, opts string) runtime.Source {
	t.Helper()
	s, err := NewSource(json.RawMessage(opts), "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fillTopic writes to topic, across its partitions: plain records with keys
// and headers, a committed transaction and an aborted one between them. It
// returns the values a read_committed reader must see.
func fillTopic(t *testing.T, b *kafkatest.Broker, topic string, partitions int) []string {
	t.Helper()
	ctx := context.Background()
	var want []string
	plain := b.Client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(cl *kgo.Client, tag string, n int, keep bool) {
		for i := range n {
			v := fmt.Sprintf("%s-%03d", tag, i)
			r := &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%5), Value: []byte(v), Partition: int32(i % partitions),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(tag)}}}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if keep {
				want = append(want, v)
			}
		}
	}
	produce(plain, "plain", 20, true)
	txn := b.Client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID("fill-"+topic))
	for _, commit := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		tag := "committed"
		if !commit {
			tag = "aborted"
		}
		produce(txn, tag, 9, bool(commit))
		if err := txn.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	produce(plain, "after", 7, true)
	return want
}

// TestSourceConformance runs the source conformance suite on a bounded read
// of a topic with three partitions that holds plain records, a committed and
// an aborted transaction.
func TestSourceConformance(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.Options{})
	b.CreateTopic(t, "in", 3)
	want := fillTopic(t, b, "in", 3)
	opts := fmt.Sprintf(`{"brokers":[%q],"topic":"in","bounded":true}`, b.Addr)
	conformance.TestSource(t, func(t *testing.T) runtime.Source { return mustSource(t, opts) })

	// What the suite read equals what a read_committed consumer reads.
	got := readAll(t, mustSource(t, opts))
	if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
		t.Errorf("source read %d values %v, want the %d committed ones %v", len(got), sorted(got), len(want), sorted(want))
	}
}

// readAll reads every split of a bounded source to the end and returns the
// record values.
func readAll(t *testing.T, src runtime.Source) []string {
	t.Helper()
	ctx := context.Background()
	splits, err := src.Splits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, s := range splits {
		r, err := src.Open(ctx, s, nil, runtime.SourceEnv{Clock: runtime.SystemClock{}})
		if err != nil {
			t.Fatal(err)
		}
		for {
			var w abi.Writer
			w.Reset()
			_, err := r.Read(ctx, &w, 100)
			rd := abi.NewReader(w.Bytes())
			for rd.Next() {
				vals = append(vals, string(rd.Entry().Value))
			}
			if rd.Err() != nil {
				t.Fatal(rd.Err())
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
	}
	return vals
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestSourceGroupOffsets checks that with option group the source commits
// the previous barrier's position to the consumer group, for monitoring.
func TestSourceGroupOffsets(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.Options{})
	b.CreateTopic(t, "in", 1)
	fillTopic(t, b, "in", 1)
	src := mustSource(t, fmt.Sprintf(`{"brokers":[%q],"topic":"in","group":"lag"}`, b.Addr))
	ctx := context.Background()
	r, err := src.Open(ctx, "in/0000", nil, runtime.SourceEnv{Clock: runtime.SystemClock{}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var w abi.Writer
	for read := 0; read < 5; {
		w.Reset()
		n, err := r.Read(ctx, &w, 5-read)
		if err != nil {
			t.Fatal(err)
		}
		read += n
	}
	first := r.Position() // barrier 1: nothing committed yet
	adm := kadm.NewClient(b.Client())
	// The group coordinator may still be loading (the offsets topic is
	// created on first use): barriers go on until a commit gets through.
	for range 3000 {
		r.Position() // a later barrier: commits barrier 1's position
		time.Sleep(20 * time.Millisecond)
		offs, err := adm.FetchOffsets(ctx, "lag")
		if errors.Is(err, kerr.CoordinatorNotAvailable) || errors.Is(err, kerr.CoordinatorLoadInProgress) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := offs.Lookup("in", 0); ok && o.At >= 0 {
			if want := int64(binary.BigEndian.Uint64(first)); o.At != want {
				t.Fatalf("group offset %d, want barrier 1's position %d", o.At, want)
			}
			return
		}
	}
	t.Fatal("no group offset committed after 3000 barriers")
}

// TestSourceOptionErrors checks that bad options are rejected with errors
// that name the option.
func TestSourceOptionErrors(t *testing.T) {
	t.Setenv(DefaultBrokersEnv, "")
	for _, c := range []struct{ opts, want string }{
		{`{"brokers":["localhost:9092"]}`, "option topic: required"},
		{`{"brokers":["localhost:9092"],"topic":"a b"}`, "option topic: \"a b\" has ' '"},
		{`{"topic":"t"}`, "option brokersEnv: environment variable WEIR_KAFKA_BROKERS is not set"},
		{`{"brokers":["localhost"],"topic":"t"}`, "option brokers: broker \"localhost\" is not host:port"},
		{`{"brokers":["h:1"],"topic":"t","startOffset":"middle"}`, "option startOffset: \"middle\" is not one of"},
		{`{"brokers":["h:1"],"topic":"t","offset":1}`, "unknown field \"offset\""},
	} {
		_, err := NewSource(json.RawMessage(c.opts), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSource(%s): error %v, want one containing %q", c.opts, err, c.want)
		}
	}
}

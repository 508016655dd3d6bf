package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/weirstream/weir/plugins/nats/natstest"
)

// natsBenchRecords is the number of records each side of BenchmarkNATS moves.
const natsBenchRecords = 500_000

// natsBenchInSpec writes natsBenchRecords generator records (80-byte values)
// into stream BIN through the nats sink.
const natsBenchInSpec = `name: natsbenchin
parallelism: 2
checkpoint: {interval: 1s}
sources:
  - name: gen
    kind: datagen
    options: {seed: 3, count: %d, splits: 2, keys: 1000, valueBytes: 80}
sinks:
  - name: out
    kind: nats
    from: gen
    options: {urlEnv: WEIR_TEST_NATS, stream: BIN, subject: bin, createStream: true}
`

// natsBenchOutSpec reads stream BIN back with the source, to a discard sink.
const natsBenchOutSpec = `name: natsbenchout
parallelism: 1
checkpoint: {interval: 1s}
sources:
  - name: msgs
    kind: nats
    options: {urlEnv: WEIR_TEST_NATS, stream: BIN, stopAtEnd: true}
sinks:
  - name: out
    kind: discard
    from: msgs
`

// BenchmarkNATS measures, against one in-process nats-server in one run,
// records/s into JetStream through a `weir run` job (generator -> nats sink)
// against a plain nats.go async publisher (the same number of messages of
// the same size, every ack awaited), and out of it through a job (nats
// source -> discard) against a plain nats.go ordered consumer reading the
// same stream to its end, and reports the ratios. A job's time runs from its
// "job running" line to its exit, final checkpoint and commit included.
//
//	go test -run '^$' -bench BenchmarkNATS -benchtime 1x ./cmd/weir/
func BenchmarkNATS(b *testing.B) {
	nb := newNATSBench(b)
	srv, js, ctx := nb.srv, nb.js, context.Background()
	for b.Loop() {
		nb.reset("PLAIN")
		weirIn := nb.jobIn()

		// Into JetStream: async publishes of 80-byte values, at most 4096
		// unacked (the sink's default bound), every ack awaited.
		srv.CreateStream(b, "PLAIN", "plain")
		pjs, err := jetstream.New(natsConn(b, srv.URL()), jetstream.WithPublishAsyncMaxPending(4096))
		if err != nil {
			b.Fatal(err)
		}
		value := make([]byte, 80)
		start := time.Now()
		for i := range natsBenchRecords {
			value[0] = byte(i)
			if _, err := pjs.PublishAsync("plain", value, jetstream.WithStallWait(30*time.Second)); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-pjs.PublishAsyncComplete():
		case <-time.After(time.Minute):
			b.Fatal("plain publisher: acks missing after a minute")
		}
		plainIn := time.Since(start)
		if n := nb.count("PLAIN"); n != natsBenchRecords {
			b.Fatalf("the plain publisher stored %d messages, want %d", n, natsBenchRecords)
		}

		weirOut := nb.job(natsBenchOutSpec)
		st, err := js.Stream(ctx, "BIN")
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		it, err := c.Messages()
		if err != nil {
			b.Fatal(err)
		}
		for range natsBenchRecords {
			if _, err := it.Next(); err != nil {
				b.Fatal(err)
			}
		}
		it.Stop()
		plainOut := time.Since(start)

		rate := func(d time.Duration) float64 { return natsBenchRecords / d.Seconds() }
		b.ReportMetric(rate(weirIn), "weir-in-records/s")
		b.ReportMetric(rate(plainIn), "publisher-records/s")
		b.ReportMetric(plainIn.Seconds()/weirIn.Seconds(), "in-ratio")
		b.ReportMetric(rate(weirOut), "weir-out-records/s")
		b.ReportMetric(rate(plainOut), "consumer-records/s")
		b.ReportMetric(plainOut.Seconds()/weirOut.Seconds(), "out-ratio")
		b.Logf("%d records: into JetStream weir %v, plain publisher %v; out of it weir %v, plain ordered consumer %v", natsBenchRecords, weirIn, plainIn, weirOut, plainOut)
	}
}

// natsConn connects to url for the benchmark's plain client.
func natsConn(b *testing.B, url string) *nats.Conn {
	b.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	return nc
}

// natsBench is the set-up that BenchmarkNATS and BenchmarkNATSBench share:
// one in-process nats-server and the weir binary, to run the jobs of
// natsBenchInSpec and natsBenchOutSpec against it.
type natsBench struct {
	b     *testing.B
	srv   *natstest.Server
	js    jetstream.JetStream
	bin   string
	cache string
}

func newNATSBench(b *testing.B) *natsBench {
	b.Helper()
	srv := natstest.Start(b)
	return &natsBench{b: b, srv: srv, js: srv.JetStream(b), bin: buildWeir(b), cache: b.TempDir()}
}

// job runs the job of spec against the server and returns its time (see
// timeJob).
func (nb *natsBench) job(spec string) time.Duration {
	return timeJob(nb.b, nb.bin, nb.cache, spec, "WEIR_TEST_NATS="+nb.srv.URL())
}

// count returns the number of messages in stream.
func (nb *natsBench) count(stream string) uint64 {
	ctx := context.Background()
	st, err := nb.js.Stream(ctx, stream)
	if err != nil {
		nb.b.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		nb.b.Fatal(err)
	}
	return info.State.Msgs
}

// reset deletes the streams of the jobs (BIN, WEIR_STAGING) and streams.
func (nb *natsBench) reset(streams ...string) {
	for _, s := range append([]string{"BIN", "WEIR_STAGING"}, streams...) {
		if err := nb.js.DeleteStream(context.Background(), s); err != nil && err != jetstream.ErrStreamNotFound {
			nb.b.Fatal(err)
		}
	}
}

// jobIn runs the job of natsBenchInSpec, checks that stream BIN holds its
// natsBenchRecords messages, and returns its time.
func (nb *natsBench) jobIn() time.Duration {
	d := nb.job(fmt.Sprintf(natsBenchInSpec, natsBenchRecords))
	if n := nb.count("BIN"); n != natsBenchRecords {
		nb.b.Fatalf("the job committed %d messages, want %d", n, natsBenchRecords)
	}
	return d
}

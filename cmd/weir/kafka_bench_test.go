package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/weirstream/weir/plugins/kafka/kafkatest"
)

// kafkaBenchRecords is the number of records each side of BenchmarkKafka
// moves.
const kafkaBenchRecords = 2_000_000

// kafkaBenchInSpec writes kafkaBenchRecords generator records (80-byte
// values) into a topic through the transactional kafka sink.
const kafkaBenchInSpec = `name: kafkabenchin
parallelism: 2
checkpoint: {interval: 1s}
sources:
  - name: gen
    kind: datagen
    options: {seed: 3, count: %d, splits: 2, keys: 1000, valueBytes: 80}
sinks:
  - name: out
    kind: kafka
    from: gen
    options: {topic: %s}
`

// kafkaBenchOutSpec reads that topic back with the source (read_committed),
// to a discard sink, with one reader as the consumer tool has.
const kafkaBenchOutSpec = `name: kafkabenchout
parallelism: 1
checkpoint: {interval: 1s}
sources:
  - name: recs
    kind: kafka
    options: {topic: %s, bounded: true}
sinks:
  - name: out
    kind: discard
    from: recs
`

// Kafka's perf tools print their own rates: ProducerPerformance a last line
// "N records sent, R records/sec (...)", ConsumerPerformance a CSV header and
// one line of values.
var producerPerfTotal = regexp.MustCompile(`(\d+) records sent, ([0-9.]+) records/sec`)

// BenchmarkKafka measures, against one real broker in one run, records/s
// into Kafka through a `weir run` job (generator -> transactional kafka
// sink) against Kafka's kafka-producer-perf-test (the ProducerPerformance
// class of the kafka-tools jar: the same number of 80-byte records, with its
// default idempotent producer, with a transaction per second as the job's
// checkpoints make, and with that and the sink's batching and compression),
// and out of it through a job (kafka source ->
// discard) against kafka-consumer-perf-test (ConsumerPerformance) reading the
// job's topic with read_committed, and reports the ratios. A job's time runs
// from its "job running" line to its exit, final checkpoint and commit
// included; the tools' rates are the ones they print, JVM start excluded.
//
//	go test -run '^$' -bench BenchmarkKafka -benchtime 1x ./cmd/weir/
func BenchmarkKafka(b *testing.B) {
	br := kafkatest.Start(b, kafkatest.Options{})
	bin := buildWeir(b)
	cache := b.TempDir()
	tool := func(main string, args ...string) string {
		out, err := br.Tool(main, args...).CombinedOutput()
		if err != nil {
			b.Fatalf("%s: %v\n%s", main, err, out)
		}
		return string(out)
	}
	// produce runs ProducerPerformance into a new topic, with a transaction
	// per second if txn, and with the producer properties props.
	produce := func(topic string, txn bool, props ...string) float64 {
		br.CreateTopic(b, topic, 2)
		args := []string{"--topic", topic, "--num-records", strconv.Itoa(kafkaBenchRecords), "--record-size", "80", "--throughput", "-1"}
		if txn {
			args = append(args, "--transaction-duration-ms", "1000")
		}
		args = append(append(args, "--producer-props", "bootstrap.servers="+br.Addr), props...)
		out := tool("org.apache.kafka.tools.ProducerPerformance", args...)
		m := producerPerfTotal.FindAllStringSubmatch(out, -1)
		if len(m) == 0 || m[len(m)-1][1] != strconv.Itoa(kafkaBenchRecords) {
			b.Fatalf("ProducerPerformance: no total for %d records in:\n%s", kafkaBenchRecords, out)
		}
		rate, _ := strconv.ParseFloat(m[len(m)-1][2], 64)
		return rate
	}
	// Each iteration has topics of its own (named with it): deleting a
	// topic in Kafka completes in the background.
	iter := 0
	for b.Loop() {
		iter++
		topic := fmt.Sprintf("weir%d", iter)
		br.CreateTopic(b, topic, 2)
		weirIn := timeJob(b, bin, cache, fmt.Sprintf(kafkaBenchInSpec, kafkaBenchRecords, topic), "WEIR_KAFKA_BROKERS="+br.Addr)
		if n := len(br.ReadCommitted(b, topic)); n != kafkaBenchRecords {
			b.Fatalf("the job committed %d records, want %d", n, kafkaBenchRecords)
		}
		conf := filepath.Join(b.TempDir(), "consumer.properties")
		if err := os.WriteFile(conf, []byte("isolation.level=read_committed\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		out := tool("org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", br.Addr,
			"--topic", topic, "--messages", strconv.Itoa(kafkaBenchRecords), "--consumer.config", conf, "--timeout", "15000")
		stats := consumerPerfStats(b, out)
		if got := stats["data.consumed.in.nMsg"]; got != kafkaBenchRecords {
			b.Fatalf("ConsumerPerformance consumed %v records, want %d:\n%s", got, kafkaBenchRecords, out)
		}

		plainIn := produce(fmt.Sprintf("plain%d", iter), false)
		txnIn := produce(fmt.Sprintf("txn%d", iter), true)
		// The sink's franz-go client batches up to ~1 MB per partition,
		// lingers 10 ms and compresses with snappy; the Java producer's
		// defaults are 16 KiB, 5 ms and none.
		likeIn := produce(fmt.Sprintf("like%d", iter), true, "batch.size=1000000", "linger.ms=10", "compression.type=snappy")

		weirOut := timeJob(b, bin, cache, fmt.Sprintf(kafkaBenchOutSpec, topic), "WEIR_KAFKA_BROKERS="+br.Addr)
		weirInRate := kafkaBenchRecords / weirIn.Seconds()
		weirOutRate := kafkaBenchRecords / weirOut.Seconds()
		b.ReportMetric(weirInRate, "weir-in-records/s")
		b.ReportMetric(plainIn, "producer-perf-records/s")
		b.ReportMetric(weirInRate/plainIn, "in-ratio")
		b.ReportMetric(txnIn, "producer-perf-txn-records/s")
		b.ReportMetric(weirInRate/txnIn, "in-txn-ratio")
		b.ReportMetric(likeIn, "producer-perf-like-records/s")
		b.ReportMetric(weirInRate/likeIn, "in-like-ratio")
		b.ReportMetric(weirOutRate, "weir-out-records/s")
		// NB: nMsg.sec counts the consumer group's join; fetch.nMsg.sec does
		// not, and is the one compared (Weir's source assigns partitions
		// itself and joins no group).
		b.ReportMetric(stats["nMsg.sec"], "consumer-perf-records/s")
		b.ReportMetric(stats["fetch.nMsg.sec"], "consumer-perf-fetch-records/s")
		b.ReportMetric(weirOutRate/stats["fetch.nMsg.sec"], "out-ratio")
		b.Logf("%d records: into Kafka weir %v (%.0f/s), producer-perf-test %.0f/s, with transactions %.0f/s, and the sink's batching %.0f/s; out of it weir %v (%.0f/s), consumer-perf-test %.0f/s (%.0f/s without its group join)",
			kafkaBenchRecords, weirIn, weirInRate, plainIn, txnIn, likeIn, weirOut, weirOutRate, stats["nMsg.sec"], stats["fetch.nMsg.sec"])
	}
}

// consumerPerfStats parses ConsumerPerformance's output: the line of values
// after its CSV header, by column name.
func consumerPerfStats(b *testing.B, out string) map[string]float64 {
	b.Helper()
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "start.time") || i+1 >= len(lines) {
			continue
		}
		names, values := strings.Split(l, ","), strings.Split(lines[i+1], ",")
		if len(values) != len(names) {
			break
		}
		stats := map[string]float64{}
		for j, n := range names {
			if v, err := strconv.ParseFloat(strings.TrimSpace(values[j]), 64); err == nil {
				stats[strings.TrimSpace(n)] = v
			}
		}
		return stats
	}
	b.Fatalf("ConsumerPerformance: no statistics in:\n%s", out)
	return nil
}

package main

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weirstream/weir/plugins/kafka"
	"github.com/weirstream/weir/plugins/nats"
	"github.com/weirstream/weir/runtime"
)

// metrics is the server's runtime.Observer: Prometheus metrics on /metrics.
type metrics struct {
	reg          *prometheus.Registry
	recordsIn    *prometheus.CounterVec
	recordsOut   *prometheus.CounterVec
	errors       *prometheus.CounterVec
	batchSeconds *prometheus.HistogramVec
	blocked      *prometheus.CounterVec
	ckptSeconds  *prometheus.HistogramVec
	ckptBytes    *prometheus.GaugeVec
	ckptAlign    *prometheus.GaugeVec
	ckptLast     *prometheus.GaugeVec
	ckptFailed   *prometheus.CounterVec
	swaps        *prometheus.CounterVec
	swapPause    *prometheus.HistogramVec
}

func newMetrics() *metrics {
	sub := []string{"job", "node", "subtask"}
	m := &metrics{
		reg:        prometheus.NewRegistry(),
		recordsIn:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_records_in_total", Help: "Records taken in by an operator or sink subtask."}, sub),
		recordsOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_records_out_total", Help: "Records emitted by an operator subtask."}, sub),
		errors:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_batch_errors_total", Help: "Batches that failed in an operator or sink subtask (each restarts the job)."}, sub),
		batchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weir_batch_duration_seconds", Help: "Time one batch took in an operator or sink.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 4, 10)}, []string{"job", "node"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_backpressure_seconds_total", Help: "Time a subtask waited for room downstream (backpressure)."}, sub),
		ckptSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weir_checkpoint_duration_seconds", Help: "Time from a checkpoint's trigger to its completion.",
			Buckets: prometheus.ExponentialBuckets(1e-3, 3, 10)}, []string{"job"}),
		ckptBytes:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_checkpoint_state_bytes", Help: "State bytes referenced by the newest complete checkpoint."}, []string{"job"}),
		ckptAlign:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_checkpoint_alignment_seconds", Help: "Longest barrier alignment of the newest complete checkpoint."}, []string{"job"}),
		ckptLast:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_checkpoint_last_id", Help: "Id of the newest complete checkpoint."}, []string{"job"}),
		ckptFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_checkpoint_failures_total", Help: "Checkpoints abandoned (a snapshot failed, a time-out, a manifest not written)."}, []string{"job"}),
		swaps:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_module_swaps_total", Help: "Hot swaps of an operator's module that reached their barrier."}, []string{"job", "operator", "module"}),
		swapPause: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weir_module_swap_pause_seconds", Help: "How long a swap held an operator subtask's records back (alignment, snapshot, switch of instances).",
			Buckets: prometheus.ExponentialBuckets(100e-6, 3, 10)}, []string{"job", "operator"}),
	}
	registerNATSMetrics(m.reg)
	registerKafkaMetrics(m.reg)
	m.reg.MustRegister(m.recordsIn, m.recordsOut, m.errors, m.batchSeconds, m.blocked, m.ckptSeconds, m.ckptBytes, m.ckptAlign, m.ckptLast, m.ckptFailed, m.swaps, m.swapPause,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// registerNATSMetrics exports the nats connector's counters (nats.Metrics),
// which the plugin keeps without a metrics library.
func registerNATSMetrics(reg *prometheus.Registry) {
	for _, c := range []struct {
		name, help string
		v          *atomic.Uint64
	}{
		{"weir_nats_source_messages_total", "Messages the nats source returned as records.", &nats.Metrics.SourceMessages},
		{"weir_nats_source_gap_messages_total", "Stream sequences the nats source found missing (deleted before they were read).", &nats.Metrics.SourceGapMessages},
		{"weir_nats_sink_staged_records_total", "Records the nats sink staged at pre-commits.", &nats.Metrics.SinkStaged},
		{"weir_nats_sink_published_records_total", "Records the nats sink published to target streams at commits (acked).", &nats.Metrics.SinkPublished},
		{"weir_nats_sink_duplicates_total", "Publishes of the nats sink that JetStream dropped as duplicates (a repeated commit).", &nats.Metrics.SinkDuplicates},
		{"weir_ingest_requests_total", "HTTP ingest requests stored and answered 202 (repeats of an Idempotency-Key not counted).", &nats.Metrics.IngestRequests},
		{"weir_ingest_records_total", "Records of the HTTP ingest requests stored.", &nats.Metrics.IngestRecords},
		{"weir_ingest_errors_total", "HTTP ingest requests the stream did not acknowledge (answered 503).", &nats.Metrics.IngestErrors},
		{"weir_nats_sink_publish_errors_total", "Publishes of the nats sink that failed (each fails a pre-commit or commit).", &nats.Metrics.SinkPublishErrors},
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help}, func() float64 { return float64(c.v.Load()) }))
	}
}

// registerKafkaMetrics exports the kafka connector's counters
// (kafka.ReadMetrics), which the plugin keeps without a metrics library.
func registerKafkaMetrics(reg *prometheus.Registry) {
	for _, c := range []struct {
		name, help string
		v          func(kafka.Metrics) int64
	}{
		{"weir_kafka_source_records_total", "Records the kafka source returned (read_committed).", func(m kafka.Metrics) int64 { return m.SourceRecords }},
		{"weir_kafka_sink_records_total", "Records the kafka sink handed to its transactional producers.", func(m kafka.Metrics) int64 { return m.RecordsProduced }},
		{"weir_kafka_sink_transactions_committed_total", "Transactions the kafka sink committed (EndTxn commit accepted and markers written; retries count again).", func(m kafka.Metrics) int64 { return m.TransactionsCommitted }},
		{"weir_kafka_sink_transactions_aborted_total", "Open transactions of the sink's prefix that recovery aborted (zombies and unfinished checkpoints).", func(m kafka.Metrics) int64 { return m.TransactionsAborted }},
		{"weir_kafka_sink_coordinator_retries_total", "EndTxn and InitProducerID calls retried while the transaction coordinator was busy or moving.", func(m kafka.Metrics) int64 { return m.CoordinatorRetries }},
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help}, func() float64 { return float64(c.v(kafka.ReadMetrics())) }))
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) Batch(job, node string, subtask, in, out int, d time.Duration) {
	st := strconv.Itoa(subtask)
	m.recordsIn.WithLabelValues(job, node, st).Add(float64(in))
	if out > 0 {
		m.recordsOut.WithLabelValues(job, node, st).Add(float64(out))
	}
	m.batchSeconds.WithLabelValues(job, node).Observe(d.Seconds())
}

func (m *metrics) Failure(job, node string, subtask int) {
	m.errors.WithLabelValues(job, node, strconv.Itoa(subtask)).Inc()
}

func (m *metrics) Blocked(job, node string, subtask int, d time.Duration) {
	m.blocked.WithLabelValues(job, node, strconv.Itoa(subtask)).Add(d.Seconds())
}

func (m *metrics) Checkpoint(job string, id int64, d time.Duration, stateBytes int64, alignment time.Duration) {
	m.ckptSeconds.WithLabelValues(job).Observe(d.Seconds())
	m.ckptBytes.WithLabelValues(job).Set(float64(stateBytes))
	m.ckptAlign.WithLabelValues(job).Set(alignment.Seconds())
	m.ckptLast.WithLabelValues(job).Set(float64(id))
}

func (m *metrics) CheckpointFailed(job string, id int64, d time.Duration, err error) {
	m.ckptFailed.WithLabelValues(job).Inc()
}

func (m *metrics) Swap(job, operator string, subtask int, module string, id int64, pause time.Duration) {
	if subtask == 0 {
		m.swaps.WithLabelValues(job, operator, module).Inc()
	}
	m.swapPause.WithLabelValues(job, operator).Observe(pause.Seconds())
}

// shadowCollector exports the shadows' counts (runtime/shadow.go), read at
// each scrape from the server: weir_shadow_records_total{result=matched|
// mismatched|failed} per job and operator.
type shadowCollector struct {
	shadows func() map[string][]runtime.ShadowStatus
	records *prometheus.Desc
}

func newShadowCollector(shadows func() map[string][]runtime.ShadowStatus) *shadowCollector {
	return &shadowCollector{shadows: shadows, records: prometheus.NewDesc("weir_shadow_records_total",
		"Input records a shadow module compared with the live module: matched (byte-identical output), mismatched, or failed (the shadow failed on their batch).",
		[]string{"job", "operator", "module", "result"}, nil)}
}

func (c *shadowCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.records }

func (c *shadowCollector) Collect(ch chan<- prometheus.Metric) {
	for job, shadows := range c.shadows() {
		for _, st := range shadows {
			for _, r := range []struct {
				result string
				n      int64
			}{{"matched", st.Matched}, {"mismatched", st.Mismatched}, {"failed", st.Failed}} {
				ch <- prometheus.MustNewConstMetric(c.records, prometheus.CounterValue, float64(r.n), job, st.Operator, st.Module, r.result)
			}
		}
	}
}

package nats

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/weirstream/weir/runtime"
)

// HTTP ingest names, limits and defaults.
const (
	// IngestPath is the route of the ingest handler; {endpoint} names the
	// stream the records go to and the http sources that read it.
	IngestPath = "POST /v1/ingest/{endpoint}"
	// ingestStreamPrefix and ingestSubjectPrefix name an endpoint's stream
	// and subject: WEIR_INGEST_<endpoint> on weir-ingest.<endpoint>.
	ingestStreamPrefix  = "WEIR_INGEST_"
	ingestSubjectPrefix = "weir-ingest."
	// maxEndpointBytes keeps the stream name within maxNameBytes.
	maxEndpointBytes = maxNameBytes - len(ingestStreamPrefix)
	// HeaderIngestID carries a request's tracking id on its message.
	HeaderIngestID = "Weir-Ingest-Id"
	// maxIngestBytes bounds a request body; the server's max_payload bounds
	// it further.
	maxIngestBytes = 4 << 20
	// ingestHeaderRoom is what a message's headers may take of max_payload.
	ingestHeaderRoom = 4 << 10
	// ingestPublishTimeout bounds the wait for the stream's ack of a request.
	ingestPublishTimeout = 10 * time.Second
	// maxIdempotencyKeyBytes bounds a client's Idempotency-Key.
	maxIdempotencyKeyBytes = 64
	// DefaultIngestRetention is how long an endpoint's stream keeps records.
	DefaultIngestRetention = 7 * 24 * time.Hour
)

// Ingest formats.
const (
	formatJSONL = "jsonl"
	formatRaw   = "raw"
)

// IngestOptions configure an Ingest.
type IngestOptions struct {
	// Retention is how long an endpoint's stream keeps a record (its
	// max_age); a job that falls further behind finds a gap (DefaultIngest-
	// Retention when 0).
	Retention time.Duration
	// Duplicates is the streams' duplicate window, within which a request
	// repeated with the same Idempotency-Key is stored once (default 2m).
	Duplicates time.Duration
}

// Ingest takes records over HTTP into JetStream streams, one per endpoint,
// and makes the sources (kind http) that read them. A request is stored as
// one message, durably, before it is answered 202: nothing acknowledged is
// lost when the process dies, and a job's source reads each request exactly
// once from its checkpointed position. It is safe for concurrent use.
type Ingest struct {
	url  string
	opts IngestOptions
	nc   *nats.Conn
	js   jetstream.JetStream

	mu      sync.Mutex
	streams map[string]bool    // endpoints whose stream exists
	status  jetstream.KeyValue // the request statuses, once used
}

// NewIngest connects to the server at url.
func NewIngest(url string, opts IngestOptions) (*Ingest, error) {
	if opts.Retention <= 0 {
		opts.Retention = DefaultIngestRetention
	}
	if opts.Duplicates <= 0 {
		opts.Duplicates = defaultDuplicates
	}
	// NB: a broker that is down when the server starts must not fail the
	// jobs that read from it: the connection keeps trying, and requests get
	// 503 until it is up.
	nc, js, err := Connect(url, "weir ingest", nats.RetryOnFailedConnect(true))
	if err != nil {
		return nil, err
	}
	return &Ingest{url: url, opts: opts, nc: nc, js: js, streams: map[string]bool{}}, nil
}

// Close closes the connection.
func (in *Ingest) Close() { in.nc.Close() }

// IngestStream is the stream of an endpoint.
func IngestStream(endpoint string) string { return ingestStreamPrefix + endpoint }

func checkEndpoint(endpoint string) error {
	if err := checkToken(endpoint); err != nil {
		return err
	}
	if len(endpoint) > maxEndpointBytes {
		return fmt.Errorf("%q is longer than %d bytes", endpoint, maxEndpointBytes)
	}
	return nil
}

// ensure creates the endpoint's stream if this process has not yet.
func (in *Ingest) ensure(ctx context.Context, endpoint string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.streams[endpoint] {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	// NB: discard old with max_age only: a limit on bytes or messages would
	// drop acknowledged records that no job has read yet, or refuse new
	// ones, whichever is worse for the deployment; the age bound is stated.
	_, err := in.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        IngestStream(endpoint),
		Description: "Weir HTTP ingest endpoint " + endpoint,
		Subjects:    []string{ingestSubjectPrefix + endpoint},
		Storage:     jetstream.FileStorage,
		MaxAge:      in.opts.Retention,
		Duplicates:  in.opts.Duplicates,
	})
	if err != nil {
		return fmt.Errorf("ingest stream %s: %w", IngestStream(endpoint), err)
	}
	in.streams[endpoint] = true
	return nil
}

// ingestAnswer is the JSON body of a 202.
type ingestAnswer struct {
	ID       string `json:"id"`
	Records  int    `json:"records"`
	Stream   string `json:"stream"`
	Sequence uint64 `json:"sequence"`
	// Duplicate is true when a request with the same Idempotency-Key was
	// stored before (within the duplicate window): this one was not stored
	// again.
	Duplicate bool `json:"duplicate,omitempty"`
	// Status is the path of the request's status (IngestStatusPath): what
	// became of its records in the jobs with ack target kind ingest.
	Status string `json:"status"`
}

// Handler serves IngestPath: the body is records as JSON lines (Content-Type
// application/x-ndjson or application/jsonl, or ?format=jsonl: one record per
// non-empty line, each valid JSON) or one raw record (any other type, or
// ?format=raw). The answer is 202 with {"id", "records", "stream",
// "sequence"} once the stream has stored the request; 4xx for a bad request
// (nothing stored) and 503 when the stream did not acknowledge it (it may or
// may not be stored: repeat it with the same Idempotency-Key).
func (in *Ingest) Handler() http.Handler {
	return http.HandlerFunc(in.serve)
}

func (in *Ingest) serve(w http.ResponseWriter, r *http.Request) {
	endpoint := r.PathValue("endpoint")
	if err := checkEndpoint(endpoint); err != nil {
		http.Error(w, "ingest endpoint: "+err.Error(), http.StatusNotFound)
		return
	}
	format, err := ingestFormat(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	id, ok := requestID(w, r)
	if !ok {
		return
	}
	key := r.Header.Get(HeaderKey)
	if key == "" {
		key = id
	} else if err := (&Sink{}).checkKey([]byte(key)); err != nil {
		http.Error(w, "header "+HeaderKey+": "+err.Error(), http.StatusBadRequest)
		return
	}
	limit := min(int64(maxIngestBytes), in.nc.MaxPayload()-ingestHeaderRoom)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		http.Error(w, fmt.Sprintf("request body is larger than the limit of %d bytes", limit), http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	records, err := countRecords(body, format)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := in.ensure(r.Context(), endpoint); err != nil {
		http.Error(w, "not accepted: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	m := nats.NewMsg(ingestSubjectPrefix + endpoint)
	m.Data = body
	m.Header.Set(HeaderKey, key)
	if format == formatJSONL {
		m.Header.Set(HeaderRecords, recordsLines)
	}
	in.store(w, r, endpoint, id, m, records)
}

// requestID is the request's Idempotency-Key, checked, or a new random id;
// false after it answered 400.
func requestID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.Header.Get("Idempotency-Key")
	if id == "" {
		var b [12]byte
		rand.Read(b[:])
		return hex.EncodeToString(b[:]), true
	}
	if err := checkToken(id); err != nil || len(id) > maxIdempotencyKeyBytes {
		http.Error(w, fmt.Sprintf("header Idempotency-Key: %q: use 1-%d letters, digits, '-' and '_'", id, maxIdempotencyKeyBytes), http.StatusBadRequest)
		return "", false
	}
	return id, true
}

// store publishes m, the request id with records records, to endpoint's
// stream and answers 202 once the stream stored it (503 if it did not say).
func (in *Ingest) store(w http.ResponseWriter, r *http.Request, endpoint, id string, m *nats.Msg, records int) {
	m.Header.Set(HeaderIngestID, id)
	m.Header.Set(jetstream.MsgIDHeader, "ingest/"+endpoint+"/"+id)
	ctx, cancel := context.WithTimeout(r.Context(), ingestPublishTimeout)
	defer cancel()
	ack, err := in.js.PublishMsg(ctx, m, jetstream.WithExpectStream(IngestStream(endpoint)))
	if err != nil {
		Metrics.IngestErrors.Add(1)
		http.Error(w, fmt.Sprintf("not accepted (request %s): the stream did not acknowledge it: %v; repeat it with header Idempotency-Key: %s", id, err, id), http.StatusServiceUnavailable)
		return
	}
	if !ack.Duplicate {
		Metrics.IngestRequests.Add(1)
		Metrics.IngestRecords.Add(uint64(records))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(ingestAnswer{ID: id, Records: records, Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate,
		Status: fmt.Sprintf("/v1/ingest/%s/requests/%d", endpoint, ack.Sequence)})
}

// ingestFormat is the request's format: ?format, else from Content-Type.
func ingestFormat(r *http.Request) (string, error) {
	switch f := r.URL.Query().Get("format"); f {
	case formatJSONL, formatRaw:
		return f, nil
	case "":
	default:
		return "", fmt.Errorf("query parameter format: %q is not one of %q", f, []string{formatJSONL, formatRaw})
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines":
		return formatJSONL, nil
	}
	return formatRaw, nil
}

// countRecords checks body and returns its number of records.
func countRecords(body []byte, format string) (int, error) {
	if len(body) == 0 {
		return 0, errors.New("empty request body: no record")
	}
	if format == formatRaw {
		return 1, nil
	}
	n := 0
	for i, line := 0, []byte(nil); len(body) > 0; i++ {
		line, body, _ = bytes.Cut(body, []byte("\n"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !json.Valid(line) {
			return 0, fmt.Errorf("line %d is not valid JSON (JSON lines: one JSON value per line)", i+1)
		}
		n++
	}
	if n == 0 {
		return 0, errors.New("request body holds no JSON line: no record")
	}
	return n, nil
}

// HTTPSourceOptions are the options of the http source in a job spec.
type HTTPSourceOptions struct {
	Endpoint string `json:"endpoint"`
	OnGap    string `json:"onGap"`
	ReadWait string `json:"readWait"`
}

// NewSource returns the http source the JSON options describe: a nats source
// over the endpoint's stream, whose records are the requests' records in the
// order they were accepted.
func (in *Ingest) NewSource(opts json.RawMessage, _ string) (runtime.Source, error) {
	var o HTTPSourceOptions
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("http source: %w", err)
	}
	if err := checkEndpoint(o.Endpoint); err != nil {
		return nil, fmt.Errorf("http source: option endpoint: %w", err)
	}
	raw, err := json.Marshal(SourceOptions{ConnOptions: ConnOptions{URL: in.url}, Stream: IngestStream(o.Endpoint), OnGap: o.OnGap, ReadWait: o.ReadWait})
	if err != nil {
		return nil, err
	}
	src, err := NewSource(raw, "")
	if err != nil {
		return nil, errors.New(strings.Replace(err.Error(), "nats source", "http source", 1))
	}
	return &httpSource{Source: src.(*Source), in: in, endpoint: o.Endpoint}, nil
}

// httpSource is a nats source whose stream is created on first use, so that
// a job may start before the first request.
type httpSource struct {
	*Source
	in       *Ingest
	endpoint string
}

func (s *httpSource) Open(ctx context.Context, split string, position []byte, env runtime.SourceEnv) (runtime.SplitReader, error) {
	if err := s.in.ensure(ctx, s.endpoint); err != nil {
		return nil, fmt.Errorf("http source: %w", err)
	}
	return s.Source.Open(ctx, split, position, env)
}

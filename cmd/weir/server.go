package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/weirstream/weir/host"
	weirnats "github.com/weirstream/weir/plugins/nats"
	"github.com/weirstream/weir/plugins/nats/embedded"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/jobspec"
	"github.com/weirstream/weir/runtime/server"
	"github.com/weirstream/weir/runtime/server/dashboard"
)

// hostLoader is the server's ModuleLoader: the Wasm host engine.
type hostLoader struct{ engine *host.Engine }

func (l hostLoader) Load(ctx context.Context, name string, wasm []byte, lim jobspec.ModuleLimits) (runtime.OperatorFactory, error) {
	return l.engine.Load(ctx, name, wasm, host.Limits{MemoryBytes: lim.MemoryBytes, CallTimeout: lim.CallTimeout})
}

// serverLayout is where `weir server` keeps its files under the data directory:
//
//	<data>/catalog/       module bytes, module and job records (-catalog local)
//	<data>/jobs/<id>/     each job's checkpoints and live state
//	<data>/savepoints/<id>/sp-<n>/  savepoints
//	<data>/files/         where file sources and sinks of submitted jobs read and write (--files-dir)
//	<data>/cache/wasm/    compiled modules
//	<data>/nats/          the embedded NATS server's JetStream store (HTTP ingest)
func serverCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runServer(ctx, "server", args, stdout, stderr)
}

// jobmanagerCmd is `weir jobmanager`: `weir server` with its catalog on the
// -nats server (required), that stands by until it wins the leader election
// there, and serves the API and runs the jobs only while it leads. A leader
// that loses its lease stops its jobs and exits (a restart stands by).
func jobmanagerCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runServer(ctx, "jobmanager", args, stdout, stderr)
}

// runServer is `weir server` (role "server") or `weir jobmanager`.
func runServer(ctx context.Context, role string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs)
	var jm *jobmanagerFlags
	if role == "jobmanager" {
		jm = &jobmanagerFlags{}
		jm.register(fs)
	}
	listen := fs.String("listen", envOr("WEIR_LISTEN", "127.0.0.1:8181"), "address of the API (Connect, gRPC and gRPC-Web) and /metrics (env WEIR_LISTEN)")
	tokenFile := fs.String("token-file", "", "file holding the bearer token clients must send (env WEIR_TOKEN holds the token itself); required to listen on a non-loopback address")
	filesDir := fs.String("files-dir", "", "directory that file sources and sinks of submitted jobs read and write, relative paths only (default DATA_DIR/files)")
	maxModule := fs.String("max-module-size", "64MiB", "largest module an upload may carry")
	stateCache := fs.String("state-cache", "64MiB", "in-memory state cache per keyed subtask")
	catalogKind := fs.String("catalog", catalogLocal, "where module and job records are kept: local (DATA_DIR/catalog) or nats (a JetStream object store on the -nats server, the embedded one when -nats is not given), which several server processes can share")
	natsURL := fs.String("nats", "", "URL of the NATS server (JetStream) that keeps HTTP ingest requests; default: one embedded in this process, storing under DATA_DIR/nats")
	ingestRetention := fs.Duration("ingest-retention", weirnats.DefaultIngestRetention, "how long an HTTP ingest endpoint's stream keeps records (a job further behind finds a gap)")
	var memBudget memoryBudgetFlag
	memBudget.register(fs)
	var snaps snapshotFlags
	snaps.register(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	maxModuleBytes, err := jobspec.ParseSize(*maxModule)
	if err != nil {
		return fmt.Errorf("%w: -max-module-size: %v", errUsage, err)
	}
	cacheBytes, err := jobspec.ParseSize(*stateCache)
	if err != nil {
		return fmt.Errorf("%w: -state-cache: %v", errUsage, err)
	}
	token, err := readToken(*tokenFile)
	if err != nil {
		return err
	}
	if token == "" && !loopback(*listen) {
		return fmt.Errorf("%w: -listen %s is not a loopback address: set a bearer token (-token-file or WEIR_TOKEN) to serve other hosts", errUsage, *listen)
	}
	dataDir, err := filepath.Abs(c.dataDir)
	if err != nil {
		return err
	}
	if *filesDir == "" {
		*filesDir = filepath.Join(dataDir, "files")
	}
	if *filesDir, err = filepath.Abs(*filesDir); err != nil {
		return err
	}
	if err := os.MkdirAll(*filesDir, 0o755); err != nil {
		return err
	}

	budget, err := memBudget.budget()
	if err != nil {
		return err
	}
	var fence runtime.CheckpointFence // nil: a single server admits every completion
	if jm != nil {
		if *natsURL == "" {
			return fmt.Errorf("%w: jobmanager needs -nats URL: the JobManagers elect their leader and share their catalog there", errUsage)
		}
		if *catalogKind != catalogLocal && *catalogKind != catalogNATS {
			return fmt.Errorf("%w: -catalog %q: a jobmanager keeps its catalog in NATS", errUsage, *catalogKind)
		}
		explicit := false
		fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "catalog" })
		if explicit && *catalogKind == catalogLocal {
			return fmt.Errorf("%w: -catalog local: a jobmanager keeps its catalog in NATS, shared with the other JobManagers", errUsage)
		}
		*catalogKind = catalogNATS
		lead, err := jm.lead(ctx, *natsURL, log)
		if err != nil {
			return err
		}
		defer lead.stop() // after the jobs have stopped (deferred below)
		ctx, fence = lead.ctx, lead.fence
	}
	engine, err := host.NewEngine(ctx, host.Config{CacheDir: filepath.Join(dataDir, "cache", "wasm"), Logger: log, MemoryBudget: budget})
	if err != nil {
		return err
	}
	defer engine.Close(context.Background())
	cat, err := openCatalog(ctx, *catalogKind, *natsURL, dataDir)
	if err != nil {
		return err
	}
	defer cat.close()
	if *natsURL == "" {
		*natsURL = cat.natsURL // the catalog's embedded server, if it started one
	}
	openSnapshots, err := snaps.opener(ctx, dataDir)
	if err != nil {
		return err
	}
	reg := registry(&modules{engine: engine, log: log}, stdout)
	// HTTP ingest: requests go to JetStream before they are answered, and
	// sources of kind http read them back.
	ingest := &lazyIngest{url: *natsURL, storeDir: filepath.Join(dataDir, "nats"), opts: weirnats.IngestOptions{Retention: *ingestRetention}}
	defer ingest.Close()
	reg.Sources["http"] = ingest.NewSource
	reg.Acks["nats"] = ingest.NewAcks
	reg.Acks["ingest"] = ingest.NewIngestAcks
	metrics := newMetrics()
	metrics.reg.MustRegister(newGuestMemoryCollector(budget))
	srv, err := server.New(ctx, server.Config{
		DataDir:         dataDir,
		Catalog:         cat.store,
		OpenStore:       openSnapshots,
		State:           stateBackend,
		Loader:          hostLoader{engine},
		Sources:         reg.Sources,
		Sinks:           reg.Sinks,
		Acks:            reg.Acks,
		NewCaller:       reg.NewCaller,
		FilesDir:        *filesDir,
		MaxModuleBytes:  maxModuleBytes,
		StateCacheBytes: cacheBytes,
		Observer:        metrics,
		Fence:           fence,
		Logger:          log,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	metrics.reg.MustRegister(newShadowCollector(srv.Shadows))

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // gRPC without TLS (h2c)
	hs := &http.Server{
		Handler: srv.Handler(server.HandlerOptions{Token: token, Extra: map[string]http.Handler{
			"/metrics":                metrics.handler(),
			weirnats.IngestPath:       ingest,
			weirnats.IngestStatusPath: http.HandlerFunc(ingest.serveStatus),
			weirnats.IngestReplayPath: http.HandlerFunc(ingest.serveReplay),
			"/ui/":                    dashboard.Handler(),
			"/{$}":                    http.RedirectHandler("/ui/", http.StatusSeeOther),
		}}),
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	log.Info("weir server listening", "addr", ln.Addr().String(), "dataDir", dataDir, "filesDir", *filesDir, "auth", token != "")
	// NB: tests and scripts wait for this line on stdout to know the address.
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-sigs:
	case <-ctx.Done():
	}
	log.Info("shutting down; running jobs resume from their newest checkpoint at the next start")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutdownCtx)
	if err := context.Cause(ctx); errors.Is(err, errLostLeadership) {
		return err
	}
	return nil
}

// readToken reads the bearer token from file, else from WEIR_TOKEN.
func readToken(file string) (string, error) {
	if file == "" {
		return os.Getenv("WEIR_TOKEN"), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	t := strings.TrimSpace(string(data))
	if t == "" {
		return "", fmt.Errorf("token file %s is empty", file)
	}
	return t, nil
}

// loopback reports whether the listen address is on a loopback interface only.
func loopback(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// lazyIngest connects the HTTP ingest to its NATS server on first use (a job
// with a source of kind http, or a request), starting the embedded one if no
// URL is given: a server that never ingests runs no JetStream.
type lazyIngest struct {
	url      string // "" for the embedded server
	storeDir string
	opts     weirnats.IngestOptions

	mu  sync.Mutex
	in  *weirnats.Ingest
	emb *embedded.Server
}

func (l *lazyIngest) get() (*weirnats.Ingest, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.in != nil {
		return l.in, nil
	}
	url, err := l.serverURL()
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	in, err := weirnats.NewIngest(url, l.opts)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	l.in = in
	return in, nil
}

// serverURL returns the URL of the server's NATS: -nats, or the embedded
// one, started now if it is not running. The caller holds l.mu.
func (l *lazyIngest) serverURL() (string, error) {
	if l.url != "" {
		return l.url, nil
	}
	if l.emb == nil {
		e, err := embedded.Start(embedded.Options{StoreDir: l.storeDir, Port: -1})
		if err != nil {
			return "", err
		}
		l.emb = e
	}
	return l.emb.URL(), nil
}

// NewAcks is the factory of ack target kind nats on a server: with neither
// option url nor urlEnv, the statuses go to the server's own NATS (-nats, or
// the embedded one).
func (l *lazyIngest) NewAcks(opts json.RawMessage, dir string) (runtime.AckSink, error) {
	var conn struct {
		URL    *string `json:"url"`
		URLEnv *string `json:"urlEnv"`
	}
	if len(opts) == 0 {
		opts = json.RawMessage("{}")
	}
	// NB: errors in opts are weirnats.NewAcks's to report, with the field.
	if json.Unmarshal(opts, &conn) == nil && conn.URL == nil && conn.URLEnv == nil {
		o := map[string]any{}
		if json.Unmarshal(opts, &o) == nil && o != nil {
			l.mu.Lock()
			url, err := l.serverURL()
			l.mu.Unlock()
			if err != nil {
				return nil, fmt.Errorf("nats acks: the server's NATS: %w", err)
			}
			o["url"] = url
			if opts, err = json.Marshal(o); err != nil {
				return nil, err
			}
		}
	}
	return weirnats.NewAcks(opts, dir)
}

// NewSource is the factory of source kind http.
func (l *lazyIngest) NewSource(opts json.RawMessage, dir string) (runtime.Source, error) {
	in, err := l.get()
	if err != nil {
		return nil, err
	}
	return in.NewSource(opts, dir)
}

// ServeHTTP serves weirnats.IngestPath.
func (l *lazyIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in, err := l.get()
	if err != nil {
		http.Error(w, "not accepted: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	in.Handler().ServeHTTP(w, r)
}

// NewIngestAcks is the factory of ack target kind ingest.
func (l *lazyIngest) NewIngestAcks(opts json.RawMessage, dir string) (runtime.AckSink, error) {
	in, err := l.get()
	if err != nil {
		return nil, err
	}
	return in.NewAcks(opts, dir)
}

// serveStatus serves weirnats.IngestStatusPath.
func (l *lazyIngest) serveStatus(w http.ResponseWriter, r *http.Request) {
	in, err := l.get()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	in.StatusHandler().ServeHTTP(w, r)
}

// serveReplay serves weirnats.IngestReplayPath.
func (l *lazyIngest) serveReplay(w http.ResponseWriter, r *http.Request) {
	in, err := l.get()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	in.ReplayHandler().ServeHTTP(w, r)
}

// Close closes the connection and stops the embedded server, after the jobs
// (the caller closes the server first).
func (l *lazyIngest) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.in != nil {
		l.in.Close()
	}
	if l.emb != nil {
		l.emb.Stop()
	}
}

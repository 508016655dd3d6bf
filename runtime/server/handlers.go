package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	"github.com/weirstream/weir/runtime"
	weirv1 "github.com/weirstream/weir/runtime/api/weirv1"
	"github.com/weirstream/weir/runtime/api/weirv1/weirv1connect"
)

// maxUnaryRequestBytes bounds every request message but Upload's chunks.
const maxUnaryRequestBytes = 2 << 20

// maxChunkBytes bounds one Upload chunk message.
const maxChunkBytes = 4 << 20

// HandlerOptions configure Handler.
type HandlerOptions struct {
	// Token, when not empty, is the bearer token every request must carry
	// ("Authorization: Bearer <token>"); others get 401.
	Token string
	// Extra is served beside the API (e.g. /metrics), behind the same token.
	Extra map[string]http.Handler
}

// Handler returns the HTTP handler of the weir.v1 API: Connect, gRPC and
// gRPC-Web on the same routes (serve it with HTTP/2 enabled, h2c for gRPC
// without TLS).
func (s *Server) Handler(opts HandlerOptions) http.Handler {
	mux := http.NewServeMux()
	mp, mh := weirv1connect.NewModuleServiceHandler(&moduleService{s}, connect.WithReadMaxBytes(maxChunkBytes))
	jp, jh := weirv1connect.NewJobServiceHandler(&jobService{s}, connect.WithReadMaxBytes(maxUnaryRequestBytes))
	dp, dh := weirv1connect.NewDLQServiceHandler(&dlqService{s}, connect.WithReadMaxBytes(maxUnaryRequestBytes))
	mux.Handle(mp, mh)
	mux.Handle(jp, jh)
	mux.Handle(dp, dh)
	for p, h := range opts.Extra {
		mux.Handle(p, h)
	}
	if opts.Token == "" {
		return mux
	}
	want := []byte("Bearer " + opts.Token)
	authorized := func(r *http.Request) bool {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) == 1 {
			return true
		}
		// The dashboard's browser session: the cookie /ui/login sets.
		c, err := r.Cookie(tokenCookie)
		return err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(opts.Token)) == 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == loginPath {
			login(w, r, opts.Token)
			return
		}
		if !authorized(r) {
			if r.Method == http.MethodGet && (r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/ui/")) {
				http.Redirect(w, r, loginPath, http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="weir"`)
			http.Error(w, "missing or wrong bearer token (set WEIR_TOKEN or --token-file)", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// The dashboard's login: a form that posts the token, which comes back as an
// HttpOnly, SameSite=Strict cookie that the token check accepts beside the
// Authorization header. NB: SameSite=Strict and the API's JSON content type
// (which a cross-site form cannot send without a CORS preflight the server
// never answers) keep other sites from using the cookie.
const (
	loginPath   = "/ui/login"
	tokenCookie = "weir_token"
)

func login(w http.ResponseWriter, r *http.Request, token string) {
	msg := ""
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		got := r.PostFormValue("token")
		if subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 {
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			http.Redirect(w, r, "/ui/", http.StatusSeeOther)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		msg = `<p class="error">Wrong token.</p>`
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>Weir: sign in</title></head>
<body style="font-family: sans-serif; margin: 4em auto; max-width: 24em">
<h1>Weir</h1>%s
<form method="post" action="%s"><label>Token <input type="password" name="token" id="token" autofocus></label>
<button type="submit" id="signin">Sign in</button></form>
<p>The server's bearer token (its --token-file or WEIR_TOKEN).</p></body></html>`, msg, loginPath)
}

// connectErr maps the server's errors to Connect codes.
func connectErr(err error) error {
	var ve *validationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, errNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, errPrecondition):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, errTooLarge):
		return connect.NewError(connect.CodeResourceExhausted, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	return connect.NewError(connect.CodeInternal, err)
}

var errTooLarge = errors.New("too large")

type moduleService struct{ s *Server }

func (m *moduleService) Upload(ctx context.Context, st *connect.ClientStream[weirv1.UploadRequest]) (*connect.Response[weirv1.UploadResponse], error) {
	s := m.s
	if !st.Receive() {
		if err := st.Err(); err != nil {
			return nil, err
		}
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("empty upload: the first message must be the header"))
	}
	h := st.Msg().GetHeader()
	if h == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the first upload message must be the header (name, size_bytes)"))
	}
	if err := checkModuleName(h.Name); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("header.name: %w", err))
	}
	limit := s.cfg.MaxModuleBytes
	if h.SizeBytes < 0 || h.SizeBytes > limit {
		return nil, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("header.size_bytes %d: modules may be at most %d bytes (--max-module-size)", h.SizeBytes, limit))
	}
	var wasm []byte
	for st.Receive() {
		c := st.Msg().GetChunk()
		if st.Msg().GetHeader() != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("a second header in the upload"))
		}
		// NB: cut off as soon as the stream passes the cap, before buffering more.
		if int64(len(wasm))+int64(len(c)) > limit {
			return nil, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("module %q is larger than the limit of %d bytes; upload cut off", h.Name, limit))
		}
		wasm = append(wasm, c...)
	}
	if err := st.Err(); err != nil {
		return nil, err
	}
	if h.SizeBytes != 0 && int64(len(wasm)) != h.SizeBytes {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("module %q: header.size_bytes says %d bytes, the upload had %d", h.Name, h.SizeBytes, len(wasm)))
	}
	meta, created, err := s.mods.put(ctx, h.Name, wasm, s.cfg.Clock.Now())
	if err != nil {
		return nil, connectErr(err)
	}
	s.log.Info("module uploaded", "name", h.Name, "digest", meta.Digest, "bytes", len(wasm), "new", created)
	return connect.NewResponse(&weirv1.UploadResponse{Module: s.moduleMsg(meta), Created: created}), nil
}

func (s *Server) moduleMsg(m *moduleMeta) *weirv1.Module {
	return &weirv1.Module{Digest: m.Digest, Names: m.Names, SizeBytes: m.SizeBytes, AbiVersion: int32(m.ABIVersion), CreatedUnixMs: m.CreatedUnixMs, UsedBy: s.usedBy(m.Digest)}
}

func (m *moduleService) List(ctx context.Context, _ *connect.Request[weirv1.ListModulesRequest]) (*connect.Response[weirv1.ListModulesResponse], error) {
	metas, err := m.s.mods.list(ctx)
	if err != nil {
		return nil, connectErr(err)
	}
	sort.Slice(metas, func(a, b int) bool { return metas[a].CreatedUnixMs < metas[b].CreatedUnixMs })
	out := &weirv1.ListModulesResponse{}
	for _, meta := range metas {
		out.Modules = append(out.Modules, m.s.moduleMsg(meta))
	}
	return connect.NewResponse(out), nil
}

func (m *moduleService) get(ctx context.Context, ref string) (*moduleMeta, error) {
	d, err := m.s.mods.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	meta, err := m.s.mods.meta(ctx, d)
	if errors.Is(err, runtime.ErrNotExist) {
		return nil, notFound{fmt.Errorf("no module %s is stored", ref)}
	}
	return meta, err
}

func (m *moduleService) Get(ctx context.Context, req *connect.Request[weirv1.GetModuleRequest]) (*connect.Response[weirv1.Module], error) {
	meta, err := m.get(ctx, req.Msg.Module)
	if err != nil {
		return nil, connectErr(err)
	}
	return connect.NewResponse(m.s.moduleMsg(meta)), nil
}

func (m *moduleService) Delete(ctx context.Context, req *connect.Request[weirv1.DeleteModuleRequest]) (*connect.Response[weirv1.DeleteModuleResponse], error) {
	meta, err := m.get(ctx, req.Msg.Module)
	if err != nil {
		return nil, connectErr(err)
	}
	if users := m.s.usedBy(meta.Digest); len(users) > 0 {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("module %s is used by job(s) %s; cancel them first", meta.Digest, strings.Join(users, ", ")))
	}
	if err := m.s.mods.delete(ctx, meta); err != nil {
		return nil, connectErr(err)
	}
	return connect.NewResponse(&weirv1.DeleteModuleResponse{}), nil
}

type jobService struct{ s *Server }

func (js *jobService) Submit(ctx context.Context, req *connect.Request[weirv1.SubmitJobRequest]) (*connect.Response[weirv1.Job], error) {
	j, err := js.s.Submit(ctx, req.Msg.Spec)
	if err != nil {
		return nil, connectErr(err)
	}
	return connect.NewResponse(js.s.jobMsg(ctx, j)), nil
}

// Page sizes of the listings that page (jobs, dead letters).
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// pageSize checks a request's page_size and applies the default.
func pageSize(n int32) (int, error) {
	switch {
	case n < 0 || n > maxPageSize:
		return 0, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("page_size: %d is outside 0..%d", n, maxPageSize))
	case n == 0:
		return defaultPageSize, nil
	}
	return int(n), nil
}

// A jobs page token names the last job of the page before: its submission
// time and id, the order List pages in ("<unix ms>/<id>").
func jobPageToken(j *jobRun) string {
	return strconv.FormatInt(j.rec.SubmittedUnixMs, 10) + "/" + j.rec.ID
}

func (js *jobService) List(ctx context.Context, req *connect.Request[weirv1.ListJobsRequest]) (*connect.Response[weirv1.ListJobsResponse], error) {
	size, err := pageSize(req.Msg.PageSize)
	if err != nil {
		return nil, err
	}
	var afterMs int64
	afterID := ""
	if t := req.Msg.PageToken; t != "" {
		ms, id, ok := strings.Cut(t, "/")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || checkJobID(id) != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("page_token: %q is not a token this server gave out", t))
		}
		afterMs, afterID = n, id
	}
	f := req.Msg.Filter
	out := &weirv1.ListJobsResponse{}
	var last *jobRun
	// NB: the filter reads only the job's record and state, so that a page
	// costs one jobMsg (which may read a checkpoint) per job on it, not per job.
	for _, j := range js.s.list() {
		if f != nil && (!strings.Contains(j.rec.ID, f.Text) && !strings.Contains(j.rec.Name, f.Text) ||
			len(f.States) > 0 && !slices.Contains(f.States, j.state())) {
			continue
		}
		out.Matching++
		if ms := j.rec.SubmittedUnixMs; req.Msg.PageToken != "" && (ms < afterMs || ms == afterMs && j.rec.ID <= afterID) {
			continue
		}
		if len(out.Jobs) < size {
			out.Jobs = append(out.Jobs, js.s.jobMsg(ctx, j))
			last = j
		} else if out.NextPageToken == "" {
			out.NextPageToken = jobPageToken(last)
		}
	}
	return connect.NewResponse(out), nil
}

func (js *jobService) Get(ctx context.Context, req *connect.Request[weirv1.GetJobRequest]) (*connect.Response[weirv1.Job], error) {
	j, err := js.s.job(req.Msg.Id)
	if err != nil {
		return nil, connectErr(err)
	}
	return connect.NewResponse(js.s.jobMsg(ctx, j)), nil
}

func (js *jobService) Cancel(ctx context.Context, req *connect.Request[weirv1.CancelJobRequest]) (*connect.Response[weirv1.CancelJobResponse], error) {
	j, err := js.s.job(req.Msg.Id)
	if err != nil {
		return nil, connectErr(err)
	}
	sp, err := js.s.Cancel(ctx, j, req.Msg.Savepoint)
	if err != nil {
		return nil, connectErr(err)
	}
	return connect.NewResponse(&weirv1.CancelJobResponse{Job: js.s.jobMsg(ctx, j), Savepoint: savepointMsg(j, sp)}), nil
}

func savepointMsg(j *jobRun, sp *savepointInfo) *weirv1.Savepoint {
	if sp == nil {
		return nil
	}
	return &weirv1.Savepoint{Id: sp.ID, Job: j.rec.ID, Checkpoint: sp.Checkpoint, TimeUnixMs: sp.TimeUnixMs}
}

func (js *jobService) TriggerSavepoint(ctx context.Context, req *connect.Request[weirv1.TriggerSavepointRequest]) (*connect.Response[weirv1.Savepoint], error) {
	j, err := js.s.job(req.Msg.Id)
	if err != nil {
		return nil, connectErr(err)
	}
	sp, err := js.s.TriggerSavepoint(ctx, j)
	if err != nil {
		return nil, connectErr(err)
	}
	return connect.NewResponse(savepointMsg(j, sp)), nil
}

func (js *jobService) ListCheckpoints(ctx context.Context, req *connect.Request[weirv1.ListCheckpointsRequest]) (*connect.Response[weirv1.ListCheckpointsResponse], error) {
	j, err := js.s.job(req.Msg.Id)
	if err != nil {
		return nil, connectErr(err)
	}
	store, err := js.s.storeOf(j)
	if err != nil {
		return nil, connectErr(err)
	}
	ids, err := runtime.Checkpoints(ctx, store)
	if err != nil {
		return nil, connectErr(err)
	}
	j.mu.Lock()
	stats := j.stats
	j.mu.Unlock()
	out := &weirv1.ListCheckpointsResponse{}
	// Oldest first, so that each checkpoint's files can be told apart from
	// those of the one before.
	var before map[string]bool // the state objects of the checkpoint before
	for _, id := range slices.Backward(ids) {
		m, err := runtime.ReadManifest(ctx, store, runtime.ManifestObject(id))
		if err != nil {
			before = nil
			continue // removed by garbage collection meanwhile, or corrupt
		}
		c := &weirv1.Checkpoint{Id: id, TimeUnixMs: m.TimeUnixMs, Finished: m.Finished, Modules: m.LiveModules()}
		if st, ok := stats.checkpoint(id); ok {
			c.DurationMs, c.AlignmentMs = st.duration.Milliseconds(), st.alignment.Milliseconds()
		}
		objects := map[string]bool{}
		var incremental int64
		for _, o := range m.Operators {
			for _, h := range o.State {
				for _, f := range h.Files {
					c.StateBytes += f.Size
					if !before[f.Object] {
						incremental += f.Size
					}
					objects[f.Object] = true
				}
			}
		}
		if before != nil {
			c.IncrementalBytes = &incremental
		}
		before = objects
		out.Checkpoints = append(out.Checkpoints, c)
	}
	slices.Reverse(out.Checkpoints)
	for _, f := range stats.failedCheckpoints() {
		out.Failures = append(out.Failures, &weirv1.CheckpointFailure{Id: f.id, TimeUnixMs: f.timeUnixMs, DurationMs: f.duration.Milliseconds(), Error: f.err})
	}
	return connect.NewResponse(out), nil
}

func (js *jobService) Rescale(ctx context.Context, req *connect.Request[weirv1.RescaleJobRequest]) (*connect.Response[weirv1.Job], error) {
	j, err := js.s.job(req.Msg.Id)
	if err != nil {
		return nil, connectErr(err)
	}
	if req.Msg.NoWait {
		go func() {
			if err := js.s.Rescale(context.Background(), j, int(req.Msg.Parallelism)); err != nil {
				js.s.log.Error("rescale", "job", j.rec.ID, "err", err)
			}
		}()
		return connect.NewResponse(js.s.jobMsg(ctx, j)), nil
	}
	if err := js.s.Rescale(ctx, j, int(req.Msg.Parallelism)); err != nil {
		return nil, connectErr(err)
	}
	return connect.NewResponse(js.s.jobMsg(ctx, j)), nil
}

func (js *jobService) SwapModule(ctx context.Context, req *connect.Request[weirv1.SwapModuleRequest]) (*connect.Response[weirv1.SwapModuleResponse], error) {
	j, err := js.s.job(req.Msg.Job)
	if err != nil {
		return nil, connectErr(err)
	}
	if req.Msg.NoWait {
		digest, err := js.s.mods.resolve(ctx, req.Msg.Module)
		if err != nil {
			return nil, connectErr(err)
		}
		go func() {
			if _, _, err := js.s.Swap(context.Background(), j, req.Msg.Operator, digest, req.Msg.Migrate); err != nil {
				js.s.log.Error("swap", "job", j.rec.ID, "operator", req.Msg.Operator, "err", err)
			}
		}()
		return connect.NewResponse(&weirv1.SwapModuleResponse{Module: digest, Job: js.s.jobMsg(ctx, j)}), nil
	}
	id, digest, err := js.s.Swap(ctx, j, req.Msg.Operator, req.Msg.Module, req.Msg.Migrate)
	if err != nil {
		return nil, connectErr(err)
	}
	return connect.NewResponse(&weirv1.SwapModuleResponse{Checkpoint: id, Module: digest, Job: js.s.jobMsg(ctx, j)}), nil
}

// storeOf opens the snapshot store of a job that may not be running.
func (s *Server) storeOf(j *jobRun) (runtime.SnapshotStore, error) {
	j.mu.Lock()
	store, id := j.store, j.rec.ID
	j.mu.Unlock()
	if store != nil {
		return store, nil
	}
	return s.cfg.OpenStore(s.jobDir(id) + "/snapshots")
}

var jobStates = map[string]weirv1.JobState{
	stateRunning: weirv1.JobState_JOB_STATE_RUNNING, stateRescaling: weirv1.JobState_JOB_STATE_RESCALING,
	stateFinished: weirv1.JobState_JOB_STATE_FINISHED, stateCancelled: weirv1.JobState_JOB_STATE_CANCELLED,
	stateFailed: weirv1.JobState_JOB_STATE_FAILED,
}

// state is the job's state as jobMsg reports it.
func (j *jobRun) state() weirv1.JobState {
	j.mu.Lock()
	st, x := j.rec.State, j.x
	j.mu.Unlock()
	if st == stateRunning && x != nil && x.Progress().Attempt > 0 {
		return weirv1.JobState_JOB_STATE_RESTARTING
	}
	return jobStates[st]
}

// jobMsg renders a job's record and, if it runs, its progress.
func (s *Server) jobMsg(ctx context.Context, j *jobRun) *weirv1.Job {
	j.mu.Lock()
	rec, x, job := j.rec, j.x, j.job
	restarts := j.restarts
	counts, stats, shadows := j.lastCounts, j.stats, j.lastShadows
	j.mu.Unlock()
	out := &weirv1.Job{Id: rec.ID, Name: rec.Name, State: jobStates[rec.State], Error: rec.Error, SubmittedUnixMs: rec.SubmittedUnixMs, Spec: rec.Spec}
	var hist []runtime.ModuleChange
	if x != nil {
		p := x.Progress()
		out.LastCheckpoint, out.LastCheckpointUnixMs = p.LastCheckpoint, p.LastCheckpointAt.UnixMilli()
		if p.LastCheckpoint == 0 {
			out.LastCheckpoint, out.LastCheckpointUnixMs = p.Restored, 0
		}
		restarts += p.Attempt
		if p.Attempt > 0 && rec.State == stateRunning {
			out.State = weirv1.JobState_JOB_STATE_RESTARTING
		}
		hist = x.ModuleHistory()
		counts = x.Stats().Records()
		shadows = x.Shadows()
	}
	for _, st := range shadows {
		out.Shadows = append(out.Shadows, shadowMsg(st))
	}
	if len(hist) == 0 {
		// Not running, or its first attempt is still restoring: the newest
		// checkpoint tells.
		store, err := s.storeOf(j)
		if err != nil {
			return out
		}
		if m, err := runtime.LatestCheckpoint(ctx, store); err == nil {
			hist = m.Modules
			if x == nil {
				out.LastCheckpoint, out.LastCheckpointUnixMs = m.Checkpoint, m.TimeUnixMs
			}
		}
	}
	out.Restarts = int32(restarts)
	live := map[string]string{}
	for _, c := range hist {
		mc := &weirv1.ModuleChange{Operator: c.Operator, Module: c.Module, FromCheckpoint: c.FromCheckpoint, TimeUnixMs: c.TimeUnixMs, CanaryModule: c.CanaryModule}
		for _, r := range c.CanaryKeyGroups {
			for g := r.First; g <= r.Last; g++ {
				mc.CanaryKeyGroups = append(mc.CanaryKeyGroups, int32(g))
			}
		}
		out.ModuleHistory = append(out.ModuleHistory, mc)
		live[c.Operator] = c.Module
	}
	maxP := 0
	if job != nil {
		maxP = job.MaxParallelism
	}
	for _, c := range runtime.CanariesOf(hist) {
		out.Canaries = append(out.Canaries, canaryMsg(c, maxP))
	}
	if job != nil {
		node := func(name, kind string, p int, module string, inputs []runtime.Input) *weirv1.Node {
			n := &weirv1.Node{Name: name, Kind: kind, Parallelism: int32(p), Module: module, Records: counts[name], RecordsPerSecond: j.rates.rate(name), Inputs: inputNames(inputs)}
			n.BackpressureRatio, n.Failures = stats.node(name)
			return n
		}
		for _, n := range job.Sources {
			out.Nodes = append(out.Nodes, node(n.Name, "source", n.Parallelism, "", nil))
		}
		for _, n := range job.Operators {
			mod := live[n.Name]
			if mod == "" {
				mod = n.Module
			}
			out.Nodes = append(out.Nodes, node(n.Name, "operator", n.Parallelism, mod, n.Inputs))
		}
		for _, n := range job.Sinks {
			out.Nodes = append(out.Nodes, node(n.Name, "sink", n.Parallelism, "", n.Inputs))
		}
	}
	return out
}

func inputNames(in []runtime.Input) []string {
	names := make([]string, 0, len(in))
	for _, i := range in {
		if !slices.Contains(names, i.From) {
			names = append(names, i.From)
		}
	}
	return names
}

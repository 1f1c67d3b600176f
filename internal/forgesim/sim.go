// Package forgesim is an in-process GitHub simulator for demos and tests. It
// answers the REST endpoints Paddock uses with GitHub's JSON shapes, enforces
// GitHub's runner rules (single-use JIT configs, one job per ephemeral runner,
// busy runners cannot be deleted), delivers signed workflow_job webhooks and
// can inject faults (errors, rate limits, latency, lost or duplicated
// webhooks) deterministically from a seed.
package forgesim

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a Sim.
type Options struct {
	// WebhookURL receives signed workflow_job deliveries; "" disables them.
	WebhookURL    string
	WebhookSecret string
	// RunnerCommand is what run.sh in the runner tarball execs, with the
	// runner's own arguments appended (e.g. ["/usr/bin/paddock", "agent"]).
	RunnerCommand []string
	// RunnerBinaries maps a download's architecture (x64, arm64) to a runner
	// program file that package carries as bin/paddock-simrunner and its run.sh
	// execs instead of RunnerCommand, the way GitHub's package carries its
	// runner: for machines that do not share the host's files (microVMs).
	RunnerBinaries map[string]string
	// Seed makes fault injection reproducible.
	Seed int64
	Logf func(string, ...any)
	// LongPoll bounds one runner job poll; 0 means 30 s (GitHub's broker
	// holds polls for about as long).
	LongPoll time.Duration
	// Flavor is the forge played: "" or "github", "gitea", "forgejo" (gitea*.go).
	Flavor string
	// ForgeVersion is what a Gitea/Forgejo sim reports at /api/v1/version.
	ForgeVersion string
}

// Sim is a simulated GitHub. All methods are safe for concurrent use.
type Sim struct {
	opts Options
	mux  *http.ServeMux

	mu         sync.Mutex
	callsMu    sync.Mutex // guards stats.APICalls; taken inside mu, never around it
	rng        *rand.Rand
	faults     Faults
	failNext   []*failRule
	runners    map[int64]*runner
	retired    map[string]struct{} // secrets of removed runners, to answer 410 rather than 401
	jobs       []*job              // in creation order, so the oldest queued job is found first
	nextRunner int64
	nextJob    int64
	nextRun    int64
	limits     map[string]*budget
	stats      Stats
	deliveries []Delivery
	changed    chan struct{} // closed and replaced whenever jobs or runners change

	hooks *hookQueue
	scale *scaleSetState // runner scale sets (scaleset.go)

	tarMu    sync.Mutex
	tarballs map[string][]byte // filename -> bytes, built lazily

	srv  *http.Server
	ln   net.Listener
	base string
	// machineBase, if set, is the sim's URL as machines see it (SetMachineURL).
	machineBase string
	// gt is the Gitea/Forgejo state; nil when the sim plays GitHub.
	gt *giteaState
}

// New builds a Sim. Call Start to serve it, or mount Handler yourself.
func New(opts Options) *Sim {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.LongPoll <= 0 {
		opts.LongPoll = 30 * time.Second
	}
	s := &Sim{
		opts:       opts,
		rng:        rand.New(rand.NewSource(opts.Seed)),
		runners:    map[int64]*runner{},
		retired:    map[string]struct{}{},
		nextRunner: 1,
		nextJob:    1000,
		nextRun:    5000,
		limits:     map[string]*budget{},
		changed:    make(chan struct{}),
		tarballs:   map[string][]byte{},
		base:       "http://sim.invalid/",
		stats:      Stats{APICalls: map[string]map[int]int{}},
	}
	s.hooks = newHookQueue(s)
	s.scale = newScaleSetState()
	s.addRunnerBinaries()
	s.routes()
	return s
}

// Handler serves the whole sim: GitHub REST, runner broker and /_sim/ control.
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// Start listens on addr ("" = 127.0.0.1:0) and serves in the background.
func (s *Sim) Start(addr string) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("forgesim: listen %s: %w", addr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.base = "http://" + ln.Addr().String() + "/"
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Logf("forgesim: serve: %v", err)
		}
	}()
	return nil
}

// SetBaseURL tells a Sim mounted elsewhere (e.g. httptest) its public URL,
// used in download links and the JIT config.
func (s *Sim) SetBaseURL(u string) {
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	s.mu.Lock()
	s.base = u
	s.mu.Unlock()
}

// URL is the sim's base URL with a trailing slash (go-github's BaseURL).
func (s *Sim) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base
}

// Close stops the server, ends runner long-polls and the webhook queue.
func (s *Sim) Close() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	s.hooks.close()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
	}
}

// notifyLocked wakes every waiter (long-polls, WaitJobs). Caller holds s.mu.
func (s *Sim) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// scope is the level a REST request addresses: repository, organization or enterprise.
type scope struct {
	Kind string // repo | org | enterprise
	Name string // owner/repo, org login or enterprise slug
}

func (sc scope) key() string { return sc.Kind + ":" + strings.ToLower(sc.Name) }

// levels lists the path prefixes of the three entity levels.
var levels = []struct {
	kind, prefix string
}{
	{"repo", "/repos/{owner}/{repo}"},
	{"org", "/orgs/{org}"},
	{"enterprise", "/enterprises/{enterprise}"},
}

func scopeOf(r *http.Request) scope {
	if o := r.PathValue("owner"); o != "" {
		return scope{"repo", o + "/" + r.PathValue("repo")}
	}
	if o := r.PathValue("org"); o != "" {
		return scope{"org", o}
	}
	return scope{"enterprise", r.PathValue("enterprise")}
}

func (s *Sim) routes() {
	m := http.NewServeMux()
	for _, l := range levels {
		p := l.prefix + "/actions/runners"
		m.HandleFunc("POST "+p+"/generate-jitconfig", s.handleJIT)
		m.HandleFunc("POST "+p+"/registration-token", s.handleRegToken)
		m.HandleFunc("GET "+p, s.handleListRunners)
		m.HandleFunc("GET "+p+"/downloads", s.handleDownloads)
		m.HandleFunc("GET "+p+"/{runner_id}", s.handleGetRunner)
		m.HandleFunc("DELETE "+p+"/{runner_id}", s.handleDeleteRunner)
	}
	m.HandleFunc("GET /orgs/{org}/actions/runner-groups", s.handleRunnerGroups)
	m.HandleFunc("GET /enterprises/{enterprise}/actions/runner-groups", s.handleRunnerGroups)
	m.HandleFunc("GET /repos/{owner}/{repo}/actions/runs", s.handleListRuns)
	m.HandleFunc("GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs", s.handleRunJobs)
	m.HandleFunc("GET /repos/{owner}/{repo}/actions/jobs/{job_id}", s.handleGetJob)

	m.HandleFunc("GET /_sim/downloads/{filename}", s.handleTarball)
	m.HandleFunc("POST /_sim/runner/connect", s.handleConnect)
	m.HandleFunc("GET /_sim/runner/job", s.handlePoll)
	m.HandleFunc("POST /_sim/runner/complete", s.handleComplete)
	m.HandleFunc("POST /_sim/jobs", s.handleQueueJob)
	m.HandleFunc("GET /_sim/jobs", s.handleJobs)
	m.HandleFunc("GET /_sim/runners", s.handleSimRunners)
	m.HandleFunc("GET /_sim/stats", s.handleStats)
	s.scaleSetRoutes(m)
	m.HandleFunc("GET /_sim/faults", s.handleGetFaults)
	m.HandleFunc("PUT /_sim/faults", s.handlePutFaults)
	s.giteaRoutes(m)
	s.mux = m
}

// serve applies what GitHub applies to every REST call (auth, rate budget,
// headers) plus injected faults, and counts the call, before routing.
func (s *Sim) serve(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	// The runner service authenticates runners itself (handleRunnerRPC).
	if strings.HasPrefix(r.URL.Path, "/_sim/") || s.gt != nil && strings.HasPrefix(r.URL.Path, "/api/actions/") {
		s.mux.ServeHTTP(w, r)
		return
	}
	key := pattern
	if key == "" {
		key = r.Method + " (unmatched)"
	}
	rw := s.countingWriter(w, key)
	defer rw.done()

	token := bearer(r)
	if r.Method == http.MethodGet && token != "" {
		s.serveGET(rw, r, key, token) // conditional requests: conditional.go
		return
	}
	if !s.spendBudget(rw, r, token) {
		return
	}
	if token == "" {
		writeError(rw, http.StatusUnauthorized, "Requires authentication")
		return
	}
	if s.applyFaults(rw, r, key) {
		return
	}
	rw.Header().Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	rw.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	s.mux.ServeHTTP(rw, r)
}

// countingWriter counts the call when its status is decided, before any
// byte reaches the client: a client that has read an answer then always
// finds it counted. Counting when the handler returns raced with clients
// that stop reading at the end of the JSON value.
func (s *Sim) countingWriter(w http.ResponseWriter, key string) *statusWriter {
	return &statusWriter{ResponseWriter: w, status: http.StatusOK,
		onStatus: func(code int) { s.countCall(key, code) }}
}

// countCall takes only callsMu: it runs inside handlers that hold s.mu.
func (s *Sim) countCall(key string, status int) {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	byStatus := s.stats.APICalls[key]
	if byStatus == nil {
		byStatus = map[int]int{}
		s.stats.APICalls[key] = byStatus
	}
	byStatus[status]++
}

// bearer accepts both "Bearer X" and the older "token X" schemes, as GitHub does.
func bearer(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "bearer", "token", "remoteauth": // RemoteAuth: the scale-set token exchange
		return strings.TrimSpace(tok)
	}
	return ""
}

type statusWriter struct {
	http.ResponseWriter
	status   int
	wrote    bool
	onStatus func(int) // called once, when the status is decided
}

func (w *statusWriter) decide(code int) {
	if w.wrote {
		return
	}
	w.status, w.wrote = code, true
	if w.onStatus != nil {
		w.onStatus(code)
	}
}

// done counts a handler that wrote nothing (net/http then sends 200).
func (w *statusWriter) done() { w.decide(w.status) }

func (w *statusWriter) WriteHeader(code int) {
	w.decide(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.decide(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

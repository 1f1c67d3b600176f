package poller_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/intake"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/poller"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/testutil"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
)

const (
	runsRoute = "GET /repos/{owner}/{repo}/actions/runs"
	jobsRoute = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs"
	hookKey   = "hook-secret"
)

// memProvider keeps machines in memory; creates counts every Create call.
type memProvider struct {
	mu       sync.Mutex
	machines map[string]bool
	creates  int
}

func (p *memProvider) Create(_ context.Context, s provider.Spec) (provider.Machine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.machines[s.Name] {
		p.creates++
	}
	p.machines[s.Name] = true
	return provider.Machine{ProviderID: s.Name, Name: s.Name, Status: provider.StatusRunning}, nil
}

func (p *memProvider) Delete(_ context.Context, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.machines, name)
	return nil
}

func (p *memProvider) Get(_ context.Context, name string) (provider.Machine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.machines[name] {
		return provider.Machine{}, provider.ErrNotFound
	}
	return provider.Machine{Name: name, Status: provider.StatusRunning}, nil
}

func (p *memProvider) List(context.Context) ([]provider.Machine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []provider.Machine
	for n := range p.machines {
		out = append(out, provider.Machine{Name: n, Status: provider.StatusRunning})
	}
	return out, nil
}

func (p *memProvider) created() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.creates
}

// countingForges hands out the GitHub client wrapped to record which
// entity each poll was for.
type countingForges struct {
	c          *github.Client
	mu         sync.Mutex
	polls      map[string]int
	withClaims int // polls whose query could ask which runner claims a run
}

func (f *countingForges) Client(context.Context, string) (forge.Client, error) { return f, nil }

func (f *countingForges) ListQueuedJobsIf(ctx context.Context, ent core.Entity, q forge.QueuedQuery) (forge.QueuedListing, error) {
	f.mu.Lock()
	f.polls[ent.Name]++
	if q.RunClaim != nil {
		f.withClaims++
	}
	f.mu.Unlock()
	return f.c.ListQueuedJobsIf(ctx, ent, q)
}

func (f *countingForges) pollsOf(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.polls[name]
}

// The rest of forge.Client goes straight to the GitHub client.
func (f *countingForges) JITConfig(ctx context.Context, e core.Entity, r forge.JITRequest) (forge.JITConfig, error) {
	return f.c.JITConfig(ctx, e, r)
}
func (f *countingForges) ListRunners(ctx context.Context, e core.Entity) ([]forge.Runner, error) {
	return f.c.ListRunners(ctx, e)
}
func (f *countingForges) DeleteRunner(ctx context.Context, e core.Entity, id int64) error {
	return f.c.DeleteRunner(ctx, e, id)
}
func (f *countingForges) RunnerDownloads(ctx context.Context, e core.Entity) ([]forge.RunnerTool, error) {
	return f.c.RunnerDownloads(ctx, e)
}
func (f *countingForges) ListQueuedJobs(ctx context.Context, e core.Entity) ([]core.Job, error) {
	return f.c.ListQueuedJobs(ctx, e)
}
func (f *countingForges) Capabilities() forge.Capabilities {
	caps := f.c.Capabilities()
	caps.Conditional = f // polls go through the counter
	return caps
}
func (f *countingForges) RunnerGroupID(ctx context.Context, e core.Entity, name string) (int64, error) {
	return f.c.RunnerGroupID(ctx, e, name)
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	st     store.Store
	sim    *forgesim.Sim
	prov   *memProvider
	forges *countingForges
	m      *metrics.Metrics
	ents   []core.Entity
}

type setup struct {
	repos    []string
	intake   core.Intake
	intakeOf map[string]core.Intake // per-repository intake overriding intake
	webhooks bool                   // the sim delivers webhooks to a real intake handler
	poller   poller.Options
}

// newHarness wires SQLite, the simulator (over HTTP, through the real GitHub
// client), the real controller with an in-memory provider, and a poller.
func newHarness(t *testing.T, s setup) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := teststore.Open(t) // closed after the cleanup below
	log := slog.New(slog.NewTextHandler(testLog{t}, nil))
	h := &harness{t: t, ctx: ctx, st: st, prov: &memProvider{machines: map[string]bool{}}, m: metrics.New()}

	hooks := http.NewServeMux()
	hookSrv := httptest.NewServer(hooks)
	simOpts := forgesim.Options{}
	if s.webhooks {
		simOpts = forgesim.Options{WebhookURL: hookSrv.URL + "/webhooks/github", WebhookSecret: hookKey}
	}
	h.sim = forgesim.New(simOpts)
	if err := h.sim.Start(""); err != nil {
		t.Fatal(err)
	}
	f := core.Forge{Name: "sim", Kind: core.ForgeGitHub, APIURL: h.sim.URL(), WebhookSecret: hookKey,
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "poll-test-token"}}
	if err := st.CreateForge(ctx, &f); err != nil {
		t.Fatal(err)
	}
	for _, repo := range s.repos {
		e := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: repo, Intake: s.intake}
		if in, ok := s.intakeOf[repo]; ok {
			e.Intake = in
		}
		if err := st.CreateEntity(ctx, &e); err != nil {
			t.Fatal(err)
		}
		p := core.Pool{Name: "p-" + strings.ReplaceAll(repo, "/", "-"), EntityID: e.ID, Provider: "mem", Enabled: true,
			Labels: []string{"linux"}, MaxRunners: 50, OSType: "linux", Arch: "x64", RunnerPrefix: "t"}
		if err := st.CreatePool(ctx, &p); err != nil {
			t.Fatal(err)
		}
		h.ents = append(h.ents, e)
	}
	client, err := github.New(f, github.Options{Metrics: h.m})
	if err != nil {
		t.Fatal(err)
	}
	h.forges = &countingForges{c: client, polls: map[string]int{}}
	ctl := controller.New(controller.Options{Store: st, Providers: map[string]provider.Provider{"mem": h.prov},
		Forges: h.forges, Metrics: h.m, Logger: log, ControllerID: "test", TokenKey: []byte("k"),
		MetadataURL: "http://meta", CallbackURL: "http://cb", IdleGrace: time.Hour,
		ReconcileInterval: time.Hour, PollInterval: time.Hour, MaxCreateAttempts: 5})
	(&intake.Handler{Store: st, Events: ctl, Metrics: h.m, Logger: log}).Routes(hooks)

	po := s.poller
	po.Store, po.Forges, po.Sink, po.Metrics, po.Logger = st, h.forges, ctl, h.m, log
	pl := poller.New(po)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ctl.Run(ctx) }()
	go func() { defer wg.Done(); pl.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait(); h.sim.Close(); hookSrv.Close() })
	return h
}

func (h *harness) queue(repo string, n int) {
	h.t.Helper()
	for range n {
		if _, err := h.sim.QueueJob(forgesim.JobSpec{Repo: repo, Labels: []string{"self-hosted", "linux"}}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// storedJobs counts the jobs the store holds for all entities.
func (h *harness) storedJobs() int {
	js, err := h.st.ListJobs(h.ctx, store.JobFilter{})
	if err != nil {
		h.t.Fatal(err)
	}
	return len(js)
}

func (h *harness) eventually(what string, within time.Duration, cond func() bool) {
	h.t.Helper()
	if testutil.Within(within, cond) {
		return
	}
	h.t.Fatalf("timed out after %s waiting for: %s (stored %d, machines %d)", within, what, h.storedJobs(), h.prov.created())
}

// pollCalls sums the sim's answers on the two polling routes: charged is
// every status but 304.
func (h *harness) pollCalls() (charged, notModified int) {
	st := h.sim.Stats()
	for _, route := range []string{runsRoute, jobsRoute} {
		for code, n := range st.APICalls[route] {
			if code == http.StatusNotModified {
				notModified += n
			} else {
				charged += n
			}
		}
	}
	return charged, notModified
}

func counter(m *metrics.Metrics, name string, labels ...string) float64 {
	var c prometheus.Metric
	switch name {
	case "polls":
		c = m.Polls.WithLabelValues(labels...)
	case "calls":
		c = m.PollCalls.WithLabelValues(labels...)
	case "found":
		c = m.PollJobsFound.WithLabelValues(labels...)
	case "used":
		c = m.PollBudgetUsed.WithLabelValues(labels...)
	default:
		panic(name)
	}
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		panic(err)
	}
	if d.Gauge != nil {
		return d.Gauge.GetValue()
	}
	return d.Counter.GetValue()
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = testLog{}

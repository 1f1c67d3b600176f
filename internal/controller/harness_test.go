package controller_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/testutil"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
)

// memProvider is an in-memory provider that keeps the provider contract
// (idempotent by name, Delete of a missing machine succeeds) and records calls.
type memProvider struct {
	mu       sync.Mutex
	machines map[string]provider.Spec
	creates  []string
	deletes  []string
	// failCreate decides whether a Create call fails.
	failCreate func(name string, attempt int) error
	attempts   map[string]int
	// onCreate, if set, runs inside Create before it returns, unlocked: a
	// provider that waits for its machine to boot.
	onCreate func(provider.Spec)
}

func newMemProvider() *memProvider {
	return &memProvider{machines: map[string]provider.Spec{}, attempts: map[string]int{}}
}

func (p *memProvider) Create(_ context.Context, s provider.Spec) (provider.Machine, error) {
	if p.onCreate != nil {
		p.onCreate(s)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.creates = append(p.creates, s.Name)
	p.attempts[s.Name]++
	if p.failCreate != nil {
		if err := p.failCreate(s.Name, p.attempts[s.Name]); err != nil {
			// A crash mid-create leaves a half-made machine behind.
			p.machines[s.Name] = s
			return provider.Machine{}, err
		}
	}
	p.machines[s.Name] = s
	return provider.Machine{ProviderID: "mem-" + s.Name, Name: s.Name, Status: provider.StatusRunning}, nil
}

func (p *memProvider) Delete(_ context.Context, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deletes = append(p.deletes, name)
	delete(p.machines, name)
	return nil
}

func (p *memProvider) Get(_ context.Context, name string) (provider.Machine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.machines[name]; !ok {
		return provider.Machine{}, provider.ErrNotFound
	}
	return provider.Machine{Name: name, Status: provider.StatusRunning}, nil
}

func (p *memProvider) List(context.Context) ([]provider.Machine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []provider.Machine
	for n, s := range p.machines {
		out = append(out, provider.Machine{Name: n, PoolID: s.PoolID, Status: provider.StatusRunning})
	}
	return out, nil
}

func (p *memProvider) spec(name string) (provider.Spec, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.machines[name]
	return s, ok
}

// locked reads test state that failCreate (called under the lock) writes.
func (p *memProvider) locked(f func() string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return f()
}

func (p *memProvider) counts() (creates, deletes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.creates), len(p.deletes)
}

type simForges struct{ c forge.Client }

func (f simForges) Client(context.Context, string) (forge.Client, error) { return f.c, nil }

type harness struct {
	t      testing.TB
	st     store.Store
	sim    *forgesim.Sim
	prov   *memProvider
	ctl    *controller.Controller
	forge  core.Forge
	entity core.Entity
	ctx    context.Context
	o      controller.Options
	halt   func() // stops the running controller
}

// start runs a fresh controller (as after a restart) on the same store and provider.
func (h *harness) start() {
	rctx, cancel := context.WithCancel(h.ctx)
	h.ctl = controller.New(h.o)
	done := make(chan struct{})
	go func() { h.ctl.Run(rctx); close(done) }()
	h.halt = func() { cancel(); <-done }
}

type harnessOpt func(*controller.Options)

// newHarness wires a controller to a real SQLite store, the GitHub simulator
// over real HTTP (through the real GitHub client) and an in-memory provider.
func newHarness(t testing.TB, pools []core.Pool, opts ...harnessOpt) *harness {
	t.Helper()
	sim := forgesim.New(forgesim.Options{})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return newHarnessOn(t, sim, pools, opts...)
}

// newHarnessOn is newHarness on a given simulator, which several managers
// (each with its own store) may share; a Gitea-flavoured sim gets the Gitea
// client.
func newHarnessOn(t testing.TB, sim *forgesim.Sim, pools []core.Pool, opts ...harnessOpt) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := teststore.Open(t) // closed after the cleanup below
	h := &harness{t: t, st: st, sim: sim, prov: newMemProvider(), ctx: ctx}
	h.forge = core.Forge{Name: "sim", Kind: core.ForgeGitHub, APIURL: sim.URL(), WebhookSecret: "s",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: harnessPAT}}
	if fl := sim.Flavor(); fl != forgesim.FlavorGitHub {
		h.forge.Kind, h.forge.APIURL, h.forge.WebURL = core.ForgeKind(fl), sim.URL()+"api/v1/", sim.URL()
	}
	if err := st.CreateForge(ctx, &h.forge); err != nil {
		t.Fatal(err)
	}
	h.entity = core.Entity{ForgeID: h.forge.ID, Kind: core.EntityRepository, Name: "o/r", Intake: core.IntakeWebhook}
	if err := st.CreateEntity(ctx, &h.entity); err != nil {
		t.Fatal(err)
	}
	for i := range pools {
		p := pools[i]
		p.EntityID, p.Provider, p.Enabled = h.entity.ID, "mem", true
		if err := st.CreatePool(ctx, &p); err != nil {
			t.Fatal(err)
		}
	}
	var client forge.Client
	var err error
	if h.forge.Kind != core.ForgeGitHub {
		client, err = gitea.New(ctx, h.forge, gitea.Options{Downloads: sim.RunnerTools()})
	} else {
		client, err = github.New(h.forge, github.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	o := controller.Options{
		Store: st, Providers: map[string]provider.Provider{"mem": h.prov}, Forges: simForges{client},
		Logger: slog.New(slog.NewTextHandler(testLog(t), nil)), ControllerID: "test", TokenKey: []byte("k"),
		MetadataURL: "http://meta", CallbackURL: "http://cb", IdleGrace: time.Millisecond,
		ReconcileInterval: time.Hour, MaxCreateAttempts: 5,
	}
	for _, f := range opts {
		f(&o)
	}
	h.o = o
	h.start()
	t.Cleanup(func() { h.halt(); cancel() })
	return h
}

func pool(name string, labels ...string) core.Pool {
	return core.Pool{Name: name, Labels: labels, MaxRunners: 5, OSType: "linux", Arch: "x64", RunnerPrefix: "t"}
}

func (h *harness) event(action string, id int64, labels []string, runner string) {
	h.t.Helper()
	j := core.Job{ID: id, RunID: id, Repository: "o/r", Labels: labels, State: core.JobState(action),
		QueuedAt: time.Now(), RunnerName: runner}
	if action == "in_progress" {
		j.StartedAt = time.Now()
	}
	if action == "completed" {
		j.CompletedAt, j.Conclusion = time.Now(), "success"
	}
	_, err := h.ctl.HandleJobEvent(h.ctx, h.forge.ID, forge.JobEvent{Action: core.JobAction(action), Job: j,
		Entity: forge.EntityRef{Repository: "o/r"}}, time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
}

// eventually polls cond until it holds or 10 s pass.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	testutil.Eventually(h.t, what, 10*time.Second, cond)
}

func (h *harness) instances(states ...core.InstanceState) []core.Instance {
	h.t.Helper()
	is, err := h.st.ListInstances(h.ctx, store.InstanceFilter{States: states})
	if err != nil {
		h.t.Fatal(err)
	}
	return is
}

func (h *harness) live() []core.Instance {
	is, err := h.st.ListInstances(h.ctx, store.InstanceFilter{Live: true})
	if err != nil {
		h.t.Fatal(err)
	}
	return is
}

var errBoom = errors.New("boom: provider crashed mid-create")

// harnessPAT is distinctive so tests can prove it never reaches a machine.
const harnessPAT = "ghp_HARNESS_PAT_must_never_reach_a_machine"

// testLog sends the controller's log to the test's log (shown on failure).
func testLog(t testing.TB) io.Writer { return tlog{t} }

type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

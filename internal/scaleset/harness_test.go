package scaleset_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/agent"
	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/scaleset"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/testutil"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
)

const (
	setName = "paddock-ss"
	owner   = "paddock-test"
	repo    = "o/r"
)

// bootProvider is a provider whose machines do what a real machine's
// bootstrap does, in process: fetch the runner config once, report idle, and
// run the simulated runner (internal/agent) with the JIT config.
type bootProvider struct {
	ctl func() *controller.Controller

	mu       sync.Mutex
	machines map[string]*machine
	creates  int
}

type machine struct {
	cancel  context.CancelFunc
	stopped bool
	pool    string
}

func (p *bootProvider) Create(_ context.Context, s provider.Spec) (provider.Machine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, ok := p.machines[s.Name]; ok {
		return provider.Machine{Name: s.Name, PoolID: m.pool, Status: provider.StatusRunning}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &machine{cancel: cancel, pool: s.PoolID}
	p.machines[s.Name] = m
	p.creates++
	go p.boot(ctx, s, m)
	return provider.Machine{Name: s.Name, ProviderID: s.Name, PoolID: s.PoolID, Status: provider.StatusRunning}, nil
}

func (p *bootProvider) boot(ctx context.Context, s provider.Spec, m *machine) {
	defer func() { p.mu.Lock(); m.stopped = true; p.mu.Unlock() }()
	var cfg machineapi.RunnerConfig
	for {
		var err error
		if cfg, err = p.ctl().RunnerConfigFor(ctx, s.Token); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	_ = p.ctl().Report(ctx, s.Token, core.RunnerIdle, "")
	_ = agent.Run(ctx, cfg.JITConfig, io.Discard)
}

func (p *bootProvider) Delete(_ context.Context, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, ok := p.machines[name]; ok {
		m.cancel()
		delete(p.machines, name)
	}
	return nil
}

func (p *bootProvider) Get(_ context.Context, name string) (provider.Machine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.machines[name]
	if !ok {
		return provider.Machine{}, provider.ErrNotFound
	}
	return p.view(name, m), nil
}

func (p *bootProvider) List(context.Context) ([]provider.Machine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []provider.Machine
	for n, m := range p.machines {
		out = append(out, p.view(n, m))
	}
	return out, nil
}

func (p *bootProvider) view(name string, m *machine) provider.Machine {
	st := provider.StatusRunning
	if m.stopped {
		st = provider.StatusStopped
	}
	return provider.Machine{Name: name, ProviderID: name, PoolID: m.pool, Status: st}
}

func (p *bootProvider) createCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.creates
}

type forges struct{ c forge.Client }

func (f forges) Client(context.Context, string) (forge.Client, error) { return f.c, nil }

type harness struct {
	t    *testing.T
	ctx  context.Context
	st   store.Store
	sim  *forgesim.Sim
	prov *bootProvider
	ctl  *controller.Controller
	pool core.Pool
	log  *slog.Logger

	stopMgr  func()
	startMgr func()
	grace    time.Duration // ReassignGrace of managers started from now on
}

// newHarness wires the real controller and store to the simulator over HTTP
// through the real GitHub REST client and the scale-set library, with one
// scale-set pool. The manager is started with startManager.
func newHarness(t *testing.T, maxRunners int) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := teststore.Open(t) // closed after the cleanup below
	sim := forgesim.New(forgesim.Options{LongPoll: 2 * time.Second})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	sim.SetScaleSetTiming(300*time.Millisecond, 1500*time.Millisecond)
	f := core.Forge{Name: "sim", Kind: core.ForgeGitHub, APIURL: sim.URL(), WebURL: sim.URL(),
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "test-pat"}}
	if err := st.CreateForge(ctx, &f); err != nil {
		t.Fatal(err)
	}
	ent := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: repo, Intake: core.IntakeWebhook}
	if err := st.CreateEntity(ctx, &ent); err != nil {
		t.Fatal(err)
	}
	p := core.Pool{Name: "ss", EntityID: ent.ID, Provider: "boot", Labels: []string{setName}, MaxRunners: maxRunners,
		OSType: "linux", Arch: "x64", RunnerPrefix: "ss", ScaleSet: true, Enabled: true}
	if err := st.CreatePool(ctx, &p); err != nil {
		t.Fatal(err)
	}
	rest, err := github.New(f, github.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx, st: st, sim: sim, pool: p, grace: time.Minute,
		log: slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	h.prov = &bootProvider{ctl: func() *controller.Controller { return h.ctl }, machines: map[string]*machine{}}
	mgr := &currentManager{}
	h.ctl = controller.New(controller.Options{
		Store: st, Providers: map[string]provider.Provider{"boot": h.prov}, Forges: forges{rest},
		PoolClients: mgr,
		Logger:      h.log, ControllerID: "test", TokenKey: []byte("k"), MetadataURL: "http://meta",
		CallbackURL: "http://cb", IdleGrace: 100 * time.Millisecond, ReconcileInterval: time.Second,
		MaxCreateAttempts: 5,
	})
	cctx, ccancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { h.ctl.Run(cctx); close(done) }()
	h.stopMgr = func() {}
	newMgr := func() *scaleset.Manager {
		m := scaleset.New(scaleset.Options{Store: st, Logger: h.log, Owner: owner,
			Rescan: 200 * time.Millisecond, MinBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond,
			ReassignGrace: h.grace,
			RetryMax:      2, RetryWaitMax: 200 * time.Millisecond})
		mgr.set(m)
		return m
	}
	h.startMgr = func() {
		m := newMgr()
		mctx, mcancel := context.WithCancel(ctx)
		mdone := make(chan struct{})
		go func() { m.Run(mctx, h.ctl); close(mdone) }()
		h.stopMgr = func() { mcancel(); <-mdone; h.stopMgr = func() {} }
	}
	t.Cleanup(func() {
		h.stopMgr()
		ccancel()
		<-done
		h.prov.mu.Lock()
		for _, m := range h.prov.machines {
			m.cancel()
		}
		h.prov.mu.Unlock()
		cancel()
		sim.Close()
	})
	return h
}

func (h *harness) queue(n int) []forgesim.Job {
	h.t.Helper()
	var out []forgesim.Job
	for i := 0; i < n; i++ {
		j, err := h.sim.QueueJob(forgesim.JobSpec{Repo: repo, Labels: []string{setName}, Duration: 100 * time.Millisecond})
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

// waitDone waits until every sim job completed and no instance is live.
func (h *harness) waitDone(what string) {
	h.t.Helper()
	h.eventually(what, 60*time.Second, func() bool {
		for _, j := range h.sim.Jobs() {
			if j.Status != forgesim.StatusCompleted {
				return false
			}
		}
		live, _ := h.st.ListInstances(h.ctx, store.InstanceFilter{Live: true})
		return len(live) == 0
	})
}

func (h *harness) eventually(what string, limit time.Duration, cond func() bool) {
	h.t.Helper()
	if !testutil.Within(limit, cond) {
		live, _ := h.st.ListInstances(h.ctx, store.InstanceFilter{Live: true})
		h.t.Fatalf("timed out waiting for %s; sim jobs %+v; live instances %+v; scale sets %+v",
			what, h.sim.Jobs(), live, h.sim.ScaleSets())
	}
}

// calls sums the sim's counted calls whose route contains part.
func (h *harness) calls(part string, status int) int {
	n := 0
	for route, by := range h.sim.Stats().APICalls {
		if strings.Contains(route, part) {
			for code, c := range by {
				if status == 0 || code == status {
					n += c
				}
			}
		}
	}
	return n
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// currentManager hands the controller the scale-set manager of the moment:
// the harness restarts the manager (a new process, as far as GitHub can
// tell) while the controller runs on.
type currentManager struct {
	mu sync.Mutex
	m  *scaleset.Manager
}

func (c *currentManager) set(m *scaleset.Manager) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = m
}

func (c *currentManager) PoolClient(ctx context.Context, p core.Pool, base forge.Client) (forge.Client, error) {
	c.mu.Lock()
	m := c.m
	c.mu.Unlock()
	return m.PoolClient(ctx, p, base)
}

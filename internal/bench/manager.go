package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/provider"
)

// ManagerOptions configure the manager process the bench drives (the hidden
// `paddock bench-manager` command): a production manager whose one provider
// is replaced by an in-memory one, so what is measured is Paddock itself.
type ManagerOptions struct {
	Config string // config file
	// SeedPools and SeedInstances add this many extra pools and tracked
	// instances (running, busy) to the store before the manager starts: the
	// scale an installation reaches after a while.
	SeedPools, SeedInstances int
	// CPUProfile, if set, receives a CPU profile of the whole run.
	CPUProfile string
	// JobTime, if set, makes each machine behave like one running a job:
	// it fetches its runner config, reports idle, and reports its runner
	// done JobTime later (so the live set stays the size a real one would).
	JobTime time.Duration
}

// RunManager runs the bench's manager until stdin closes or a signal comes.
// It writes "ready URL" once it serves, then one "d NANOS" line per
// job-event → provider-create latency: the parent reads those.
func RunManager(ctx context.Context, o ManagerOptions, stdin io.Reader, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	raw, err := os.ReadFile(o.Config)
	if err != nil {
		return err
	}
	cfg, err := config.Parse(raw, o.Config, "")
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	out := &lineWriter{w: bufio.NewWriter(stdout)}
	prov := newNoopProvider()
	prov.jobTime = o.JobTime
	a, err := app.New(ctx, cfg, app.Options{Listener: l,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		ProviderOverrides: map[string]provider.Provider{benchProvider: prov},
		OnDispatch:        func(d time.Duration) { out.printf("d %d\n", d.Nanoseconds()) }})
	if err != nil {
		l.Close()
		return err
	}
	prov.ctl, prov.out = a.Controller, out
	if err := seed(ctx, a, prov, o.SeedPools, o.SeedInstances); err != nil {
		l.Close()
		return fmt.Errorf("seed the store: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// The parent ends the manager by closing its stdin.
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				out.flush()
			}
		}
	}()
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	out.printf("ready %s\n", a.URL())
	out.flush()
	err = a.Run(runCtx)
	out.flush()
	return err
}

// lineWriter serialises the dispatch lines; flushed every 20 ms, which the
// parent's wait for them allows for.
type lineWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	fmt.Fprintf(l.w, format, args...)
	l.mu.Unlock()
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	_ = l.w.Flush()
	l.mu.Unlock()
}

// benchProvider names the config's provider that the manager replaces.
const benchProvider = "bench"

// noopProvider answers at once and remembers what it made, so reconcile
// sees every machine it was asked for and removes none.
type noopProvider struct {
	mu sync.Mutex
	m  map[string]provider.Machine

	jobTime time.Duration
	ctl     machineFlow
	out     *lineWriter // told "c NAME" for each machine made, when jobTime is set
}

func newNoopProvider() *noopProvider { return &noopProvider{m: map[string]provider.Machine{}} }

func (p *noopProvider) Create(_ context.Context, s provider.Spec) (provider.Machine, error) {
	m := provider.Machine{ProviderID: s.Name, Name: s.Name, PoolID: s.PoolID, Status: provider.StatusRunning}
	p.mu.Lock()
	p.m[s.Name] = m
	p.mu.Unlock()
	if p.jobTime > 0 && p.ctl != nil {
		p.out.printf("c %s\n", s.Name)
		go p.runJob(s.Token)
	}
	return m, nil
}

// machineFlow is what a machine's requests reach in the manager (the
// controller implements it).
type machineFlow interface {
	RunnerConfigFor(ctx context.Context, token string) (machineapi.RunnerConfig, error)
	Report(ctx context.Context, token string, status core.RunnerState, message string) error
}

// runJob plays the machine's side, through the calls a machine's HTTP
// requests end in: fetch the runner config (a JIT mint at the simulator),
// report the runner idle, and after the job's time report it done. The
// bench sends the job's in_progress webhook naming this runner meanwhile.
func (p *noopProvider) runJob(token string) {
	ctx := context.Background()
	if _, err := p.ctl.RunnerConfigFor(ctx, token); err != nil {
		return
	}
	if err := p.ctl.Report(ctx, token, core.RunnerIdle, ""); err != nil {
		return
	}
	time.Sleep(p.jobTime)
	_ = p.ctl.Report(ctx, token, core.RunnerDone, "")
}

func (p *noopProvider) Delete(_ context.Context, name string) error {
	p.mu.Lock()
	delete(p.m, name)
	p.mu.Unlock()
	return nil
}

func (p *noopProvider) Get(_ context.Context, name string) (provider.Machine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, ok := p.m[name]; ok {
		return m, nil
	}
	return provider.Machine{}, provider.ErrNotFound
}

func (p *noopProvider) List(context.Context) ([]provider.Machine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]provider.Machine, 0, len(p.m))
	for _, m := range p.m {
		out = append(out, m)
	}
	return out, nil
}

// seed adds pools (labels no job asks for) and instances whose runners are
// busy, spread over them: stable state that every decision still reads.
func seed(ctx context.Context, a *app.App, prov *noopProvider, pools, instances int) error {
	if pools == 0 && instances == 0 {
		return nil
	}
	base, err := a.Store.GetPool(ctx, benchPool)
	if err != nil {
		return err
	}
	ids := []string{base.ID}
	for i := range pools {
		p := base
		p.ID, p.Name, p.Labels, p.MinIdle = "", fmt.Sprintf("seed-%04d", i), []string{"linux", fmt.Sprintf("seed-%04d", i)}, 0
		if err := a.Store.CreatePool(ctx, &p); err != nil {
			return err
		}
		ids = append(ids, p.ID)
	}
	now := time.Now()
	const batch = 500
	for start := 0; start < instances; start += batch {
		var is []*core.Instance
		for i := start; i < min(instances, start+batch); i++ {
			name := fmt.Sprintf("seed-inst-%05d", i)
			is = append(is, &core.Instance{Name: name, PoolID: ids[i%len(ids)], State: core.InstanceRunning,
				Runner: core.RunnerActive, Labels: []string{"linux"}, ProviderID: name,
				TokenHash: fmt.Sprintf("seed-%05d", i), CreatedAt: now, StateSince: now, RunnerSince: now})
			prov.m[name] = provider.Machine{ProviderID: name, Name: name, PoolID: ids[i%len(ids)], Status: provider.StatusRunning}
		}
		if err := a.Store.CreateInstances(ctx, is); err != nil {
			return err
		}
	}
	return nil
}

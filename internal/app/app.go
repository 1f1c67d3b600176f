// Package app assembles a running Paddock manager from a config: store,
// providers, forge clients, controller and HTTP endpoints. `paddock serve`
// and `paddock demo` both use it, so the demo runs the production wiring.
package app

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/paddock-ci/paddock/internal/api"
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/intake"
	"github.com/paddock-ci/paddock/internal/metadata"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/poller"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/scaleset"
	"github.com/paddock-ci/paddock/internal/scheduler"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/cached"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
)

// Options adjust how the manager is assembled.
type Options struct {
	Logger *slog.Logger
	// Listener, if set, is used instead of listening on cfg.Server.Listen
	// (the demo binds first so the simulator knows where to send webhooks).
	Listener net.Listener
	// BootCommand starts a process machine's bootstrap; default: this binary's `machine-boot`.
	BootCommand []string
	// OnDispatch receives each job-event → provider-Create latency.
	OnDispatch func(time.Duration)
	// ProviderOverrides replaces configured providers by name (benchmarks
	// isolate the manager's own hot path with an in-memory provider).
	ProviderOverrides map[string]provider.Provider
}

// App is one assembled manager.
type App struct {
	Store      store.Store
	Controller *controller.Controller
	Providers  map[string]provider.Provider
	Metrics    *metrics.Metrics
	// ScaleSets runs the listeners of scale-set pools.
	ScaleSets *scaleset.Manager
	Handler   http.Handler
	Logger    *slog.Logger
	// ControllerID identifies this manager's machines at providers.
	ControllerID string

	cfg      *config.Config
	listener net.Listener
	poller   *poller.Poller // polls entities with intake: poll
	edge     *edge
}

// New opens the store, applies the config's seeds and wires every component.
func New(ctx context.Context, cfg *config.Config, o Options) (*App, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	for _, path := range cfg.LiteralSecrets {
		log.Warn("config: secret written inline; prefer env:NAME or file:PATH", "key", path)
	}
	if cfg.Store.Driver != "sqlite" {
		return nil, fmt.Errorf("store driver %q is not supported by this build (use sqlite)", cfg.Store.Driver)
	}
	key := cfg.Store.Key()
	box, err := secretbox.New(key)
	if err != nil {
		return nil, fmt.Errorf("store.encryption_key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o700); err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, cfg.Store.Path, box)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", cfg.Store.Path, err)
	}
	// Forges, entities and pools are read on every webhook and decision but
	// rarely change: decoded (and unsealed) once, not per event.
	st := cached.Wrap(db, 0)
	a := &App{Store: st, Metrics: metrics.New(), Logger: log, cfg: cfg, listener: o.Listener}
	fail := func(err error) (*App, error) { st.Close(); return nil, err }
	if a.ControllerID, err = controllerID(ctx, st); err != nil {
		return fail(err)
	}
	if err := seed(ctx, st, cfg); err != nil {
		return fail(fmt.Errorf("apply config seeds: %w", err))
	}
	if err := disableInvalidPools(ctx, st, log); err != nil {
		return fail(fmt.Errorf("check stored pools: %w", err))
	}
	provs, err := buildProviders(cfg, a.ControllerID, o.BootCommand, log)
	if err != nil {
		return fail(err)
	}
	for name, p := range o.ProviderOverrides {
		provs[name] = p
	}
	a.Providers = provs
	names := make([]string, 0, len(provs))
	for n := range provs {
		names = append(names, n)
	}
	public := cfg.Server.PublicURL
	if o.Listener != nil && public == "" {
		public = "http://" + o.Listener.Addr().String()
	}
	tokenKey := sha256.Sum256(append([]byte("paddock instance tokens\x00"), key...))
	maxPar := make(map[string]int, len(cfg.Providers))
	capacity := map[string]scheduler.Capacity{}
	for _, p := range cfg.Providers {
		maxPar[p.Name] = p.MaxParallel
		if c := p.Capacity; c != nil {
			capacity[p.Name] = scheduler.Capacity{MaxMachines: c.MaxMachines, VCPU: c.VCPU, MemoryMB: c.MemoryMB}
		}
	}
	forges := newForgeClients(st, a.Metrics, cfg)
	if err := forges.checkForgeVersions(ctx, log); err != nil {
		return fail(err)
	}
	a.ScaleSets = scaleset.New(scaleset.Options{Store: st, Logger: log, Owner: "paddock-" + a.ControllerID})
	a.Controller = controller.New(controller.Options{
		Store: st, Providers: provs, Forges: forges, Metrics: a.Metrics, Logger: log,
		ControllerID: a.ControllerID, TokenKey: tokenKey[:],
		MetadataURL: public + "/api/v1/metadata", CallbackURL: public + "/api/v1/callbacks",
		IdleGrace: cfg.Controller.IdleGrace, ReconcileInterval: cfg.Controller.ReconcileInterval,
		PollInterval: cfg.Controller.PollInterval, MaxCreateAttempts: cfg.Controller.MaxCreateAttempts,
		ProviderMaxParallel: maxPar, OnDispatch: o.OnDispatch,
		Retention: controller.Retention{Jobs: cfg.Controller.Retention.Jobs,
			Instances: cfg.Controller.Retention.DeletedInstances, Deliveries: cfg.Controller.Retention.Deliveries},
		PoolClients: a.ScaleSets, Capacity: capacity,
	})
	a.poller = poller.New(poller.Options{Store: st, Forges: forges, Sink: a.Controller, Metrics: a.Metrics,
		Logger: log, BudgetPerHour: cfg.Controller.PollBudgetPerHour})
	a.edge = a.newEdge(cfg.Server.Limits)
	machineMux := http.NewServeMux()
	(&intake.Handler{Store: st, Events: a.Controller, Metrics: a.Metrics, Logger: log, Polls: a.poller}).Routes(machineMux)
	(&metadata.Handler{Machines: a.Controller, Logger: log}).Routes(machineMux)
	a.Handler = api.New(api.Options{
		Store: st, Metrics: a.Metrics, AdminToken: string(cfg.Server.AdminToken),
		MetricsToken: string(cfg.Server.MetricsToken), MetricsPublic: cfg.Server.MetricsPublic,
		AuthFailures: a.edge.auth,
		Mount: map[string]http.Handler{
			"/webhooks/":         a.edge.webhook.Wrap(machineMux),
			"/api/v1/metadata/":  a.edge.machine.Wrap(machineMux),
			"/api/v1/callbacks/": a.edge.machine.Wrap(machineMux),
		},
		Notify: a.Controller.Notify, DeleteInstance: a.Controller.DeleteInstance,
		PoolHealth: a.Controller.PoolHealth,
		Providers:  names, Logger: log,
	})
	return a, nil
}

func controllerID(ctx context.Context, st store.Store) (string, error) {
	id, err := st.GetMeta(ctx, "controller_id")
	if errors.Is(err, store.ErrNotFound) {
		id = uuid.NewString()
		err = st.SetMeta(ctx, "controller_id", id)
	}
	return id, err
}

// URL is where the manager listens (after Run has started listening, or with a preset Listener).
func (a *App) URL() string {
	if a.listener != nil {
		return "http://" + a.listener.Addr().String()
	}
	return "http://" + a.cfg.Server.Listen
}

// Run serves HTTP and runs the controller until ctx ends, then shuts down
// gracefully: in-flight requests and provider calls finish, state is kept.
func (a *App) Run(ctx context.Context) error {
	defer a.Store.Close()
	if a.listener == nil {
		l, err := net.Listen("tcp", a.cfg.Server.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w (is another paddock running? change server.listen)", a.cfg.Server.Listen, err)
		}
		a.listener = l
	}
	srv := a.server(a.cfg.Server.Limits)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(a.edge.conns.Listener(a.listener)) }()
	a.Logger.Info("paddock serving", "url", a.URL(), "controller_id", a.ControllerID)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { a.Controller.Run(cctx); close(done) }()
	pollDone := make(chan struct{})
	go func() { a.poller.Run(cctx); close(pollDone) }()
	ssDone := make(chan struct{})
	go func() { a.ScaleSets.Run(cctx, a.Controller); close(ssDone) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	<-done
	<-pollDone
	<-ssDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

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
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/paddock-ci/paddock/internal/api"
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/events"
	"github.com/paddock-ci/paddock/internal/intake"
	"github.com/paddock-ci/paddock/internal/leader/fence"
	"github.com/paddock-ci/paddock/internal/metadata"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/poller"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/scaleset"
	"github.com/paddock-ci/paddock/internal/scheduler"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/cached"
	"github.com/paddock-ci/paddock/internal/ui"
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
	// Events records state changes to the store's event log (Store is it,
	// wrapped around the database) and Stream serves that log.
	Events *events.Recorder
	Stream *events.Stream

	cfg      *config.Config
	listener net.Listener
	// newPoller makes the poller of entities with intake: poll, one per
	// leader term; poller is the running one (nil while not leading).
	newPoller func() *poller.Poller
	poller    atomic.Pointer[poller.Poller]
	edge      *edge
	// ha is set when several replicas share a PostgreSQL store (ha.go);
	// sqliteLock keeps a second manager off a SQLite store.
	ha         *replicas
	sqliteLock *os.File
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
	key := cfg.Store.Key()
	box, err := secretbox.New(key)
	if err != nil {
		return nil, fmt.Errorf("store.encryption_key: %w", err)
	}
	st, err := openStore(ctx, cfg.Store, box)
	if err != nil {
		return nil, err
	}
	// After the open, so a manager with another key hears about the key.
	var lock *os.File
	if cfg.Store.Driver == "sqlite" {
		if lock, err = lockSQLite(cfg.Store.Path); err != nil {
			st.Close()
			return nil, err
		}
	}
	a := &App{Store: st, Metrics: metrics.New(), Logger: log, cfg: cfg, listener: o.Listener, sqliteLock: lock}
	fail := func(err error) (*App, error) { a.close(); return nil, err }
	if a.ControllerID, err = sharedControllerID(ctx, st); err != nil {
		return fail(err)
	}
	if err := seed(ctx, st, cfg); err != nil {
		return fail(fmt.Errorf("apply config seeds: %w", err))
	}
	if err := disableInvalidPools(ctx, st, log); err != nil {
		return fail(fmt.Errorf("check stored pools: %w", err))
	}
	// From here on every write goes through the recorder, so each state
	// change is also noted in the event log.
	// Forges, entities and pools are read on every webhook and decision but
	// rarely change: decoded (and unsealed) once, not per event.
	a.Events = events.NewRecorder(cached.Wrap(st, 0), events.NewHub(), events.Options{Logger: log})
	a.Stream = &events.Stream{Store: a.Events, Hub: a.Events.Hub(), Logger: log}
	a.Store = a.Events
	rst := store.Store(a.Events)
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
	if err := a.openReplicas(ctx, cfg, public); err != nil {
		return fail(err)
	}
	var leading func() bool
	if a.ha != nil {
		leading = a.ha.node.Elector.Leading
	}
	forges := newForgeClients(rst, a.Metrics, cfg)
	if err := forges.checkForgeVersions(ctx, log); err != nil {
		return fail(err)
	}
	a.ScaleSets = scaleset.New(scaleset.Options{Store: rst, Logger: log, Owner: "paddock-" + a.ControllerID})
	// Providers and forge clients refuse side effects of a leader term that
	// may no longer act (fence); outside a term (one manager) they pass.
	fenced := make(map[string]provider.Provider, len(provs))
	for n, p := range provs {
		fenced[n] = fence.Provider(p)
	}
	a.Controller = controller.New(controller.Options{
		Store: rst, Providers: fenced, Forges: fence.ForgeClients(forges), Metrics: a.Metrics, Logger: log,
		OnNotify: a.forwardNotify, Leading: leading, Prices: cfg.Prices,
		ControllerID: a.ControllerID, TokenKey: tokenKey[:],
		MetadataURL: public + "/api/v1/metadata", CallbackURL: public + "/api/v1/callbacks",
		IdleGrace: cfg.Controller.IdleGrace, ReconcileInterval: cfg.Controller.ReconcileInterval,
		PollInterval: cfg.Controller.PollInterval, MaxCreateAttempts: cfg.Controller.MaxCreateAttempts,
		ProviderMaxParallel: maxPar, OnDispatch: o.OnDispatch,
		Retention: controller.Retention{Jobs: cfg.Controller.Retention.Jobs,
			Instances: cfg.Controller.Retention.DeletedInstances, Deliveries: cfg.Controller.Retention.Deliveries},
		PoolClients: fence.PoolClientsOf(a.ScaleSets), Emit: a.Events.Emit, Capacity: capacity,
		// A held config request of a warm machine waiting unbound must end
		// well before the server would cut it (late binding).
		BindWait: min(controller.DefaultBindWait, cfg.Server.Limits.WriteTimeout/2),
	})
	a.newPoller = func() *poller.Poller {
		return poller.New(poller.Options{Store: rst, Forges: forges, Sink: a.Controller, Metrics: a.Metrics,
			Logger: log, BudgetPerHour: cfg.Controller.PollBudgetPerHour})
	}
	a.edge = a.newEdge(cfg.Server.Limits)
	machineMux := http.NewServeMux()
	(&intake.Handler{Store: rst, Events: a.Controller, Metrics: a.Metrics, Logger: log, Polls: pollRouter{a}}).Routes(machineMux)
	(&metadata.Handler{Machines: a.Controller, Logger: log}).Routes(machineMux)
	dash, err := ui.New(ui.Options{Store: rst, AdminToken: string(cfg.Server.AdminToken),
		ViewerToken: string(cfg.Server.ViewerToken), AuthFailures: a.edge.auth, Events: a.Stream,
		PoolHealth: a.Controller.PoolHealth, DeleteInstance: a.Controller.DeleteInstance,
		Notify: a.Controller.Notify, Metrics: a.Metrics, Logger: log})
	if err != nil {
		return fail(err)
	}
	a.Handler = api.New(api.Options{
		Store: rst, Metrics: a.Metrics, AdminToken: string(cfg.Server.AdminToken),
		ViewerToken: string(cfg.Server.ViewerToken), Events: a.Stream,
		MetricsToken: string(cfg.Server.MetricsToken), MetricsPublic: cfg.Server.MetricsPublic,
		AuthFailures: a.edge.auth,
		Mount: map[string]http.Handler{
			"/webhooks/":         a.edge.webhook.Wrap(machineMux),
			"/api/v1/metadata/":  a.edge.machine.Wrap(machineMux),
			"/api/v1/callbacks/": a.edge.machine.Wrap(machineMux),
			"/ui/":               dash,
		},
		Notify: a.Controller.Notify, DeleteInstance: a.Controller.DeleteInstance,
		PoolHealth: a.Controller.PoolHealth,
		Providers:  names, Logger: log,
		Role: a.role(), Replicas: a.replicaList(), Ready: a.ready(),
	})
	return a, nil
}

// Close releases what New opened (the store, the SQLite lock, the replica
// node) for an App that was never Run; Run closes them itself.
func (a *App) Close() { a.close() }

// close releases what New opened.
func (a *App) close() {
	if a.ha != nil {
		a.ha.node.Close()
	}
	a.Store.Close()
	if a.sqliteLock != nil {
		a.sqliteLock.Close()
	}
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
	defer a.close()
	if a.listener == nil {
		l, err := net.Listen("tcp", a.cfg.Server.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w (is another paddock running? change server.listen)", a.cfg.Server.Listen, err)
		}
		a.listener = l
	}
	srv := a.server(a.cfg.Server.Limits)
	// Event streams never end by themselves; Shutdown must not wait for them.
	srv.RegisterOnShutdown(a.Stream.Close)
	evctx, evcancel := context.WithCancel(context.Background())
	evDone := make(chan struct{})
	go func() { a.Events.Run(evctx); close(evDone) }()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(a.edge.conns.Listener(a.listener)) }()
	a.Logger.Info("paddock serving", "url", a.URL(), "controller_id", a.ControllerID)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	if a.ha != nil {
		// Every replica serves HTTP; the elected one also leads.
		go func() { a.ha.node.Run(cctx); close(done) }()
	} else {
		go func() { a.lead(cctx, nil); close(done) }()
	}
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
	// Last: the controller and listeners have stopped emitting.
	evcancel()
	<-evDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

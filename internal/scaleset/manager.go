package scaleset

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/jobevent"
	"github.com/paddock-ci/paddock/internal/store"
)

// Events is the part of the controller a listener drives.
type Events interface {
	jobevent.Handler
	Notify()
}

// Options configure a Manager.
type Options struct {
	Store  store.Store
	Logger *slog.Logger
	// Owner names this manager's message sessions (GitHub shows it on conflicts).
	Owner   string
	Version string
	// RetryMax and RetryWaitMax bound the library's retries of 5xx, 429 and
	// transport errors per call (defaults 4 and 30 s, the library's own).
	RetryMax     int
	RetryWaitMax time.Duration
	// Rescan is how often pools are re-read to start and stop listeners (default 5 s).
	Rescan time.Duration
	// MinBackoff and MaxBackoff bound the wait between session attempts, for
	// example while another process holds the session (defaults 500 ms, 30 s).
	MinBackoff, MaxBackoff time.Duration
	// ReassignGrace is how long a job whose assignment GitHub cancelled may
	// wait to be assigned again before it is retired (default 2 min). GitHub
	// re-assigns up to three times with growing delays.
	ReassignGrace time.Duration
}

// Manager runs one listener per enabled scale-set pool and hands the
// controller a runner client for those pools.
type Manager struct {
	o   Options
	log *slog.Logger

	mu        sync.Mutex
	bindings  map[string]*binding
	listeners map[string]*running
}

type running struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// New fills defaults and returns a Manager; start it with Run.
func New(o Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Owner == "" {
		o.Owner = "paddock"
	}
	if o.Rescan <= 0 {
		o.Rescan = 5 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 4
	}
	if o.RetryWaitMax <= 0 {
		o.RetryWaitMax = 30 * time.Second
	}
	if o.ReassignGrace <= 0 {
		o.ReassignGrace = 2 * time.Minute
	}
	return &Manager{o: o, log: o.Logger.With("component", "scaleset"),
		bindings: map[string]*binding{}, listeners: map[string]*running{}}
}

// PoolClient implements the controller's PoolClients: a scale-set pool's
// machines mint runners through the scale set.
func (m *Manager) PoolClient(_ context.Context, pool core.Pool, base forge.Client) (forge.Client, error) {
	if !pool.ScaleSet {
		return base, nil
	}
	return &runnerClient{Client: base, b: m.binding(pool.ID)}, nil
}

func (m *Manager) binding(poolID string) *binding {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bindingLocked(poolID)
}

func (m *Manager) bindingLocked(poolID string) *binding {
	b := m.bindings[poolID]
	if b == nil {
		b = &binding{m: m, poolID: poolID}
		m.bindings[poolID] = b
	}
	return b
}

// load reads a pool with its entity and forge.
func (m *Manager) load(ctx context.Context, poolID string) (core.Pool, core.Entity, core.Forge, error) {
	pool, err := m.o.Store.GetPool(ctx, poolID)
	if err != nil {
		return pool, core.Entity{}, core.Forge{}, err
	}
	ent, err := m.o.Store.GetEntity(ctx, pool.EntityID)
	if err != nil {
		return pool, ent, core.Forge{}, err
	}
	f, err := m.o.Store.GetForge(ctx, ent.ForgeID)
	return pool, ent, f, err
}

// Run keeps a listener running for every enabled scale-set pool until ctx
// ends, then stops them; each closes its session so a restart finds none.
// The listeners hand their jobs to events. It is passed here rather than to
// New because the controller, which handles the events, is built with the
// Manager as its PoolClients.
func (m *Manager) Run(ctx context.Context, events Events) {
	t := time.NewTicker(m.o.Rescan)
	defer t.Stop()
	for {
		m.sync(ctx, events)
		select {
		case <-ctx.Done():
			m.stopAll()
			return
		case <-t.C:
		}
	}
}

func (m *Manager) sync(ctx context.Context, events Events) {
	pools, err := m.o.Store.ListPools(ctx)
	if err != nil {
		m.log.Error("list pools", "err", err)
		return
	}
	want := map[string]bool{}
	for _, p := range pools {
		if p.ScaleSet && p.Enabled {
			want[p.ID] = true
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, r := range m.listeners {
		if !want[id] {
			r.cancel()
			<-r.done
			delete(m.listeners, id)
		}
	}
	for id := range want {
		if _, ok := m.listeners[id]; ok {
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		r := &running{cancel: cancel, done: make(chan struct{})}
		m.listeners[id] = r
		l := m.newListener(id, events)
		go func() { defer close(r.done); l.run(lctx) }()
	}
}

func (m *Manager) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, r := range m.listeners {
		r.cancel()
		<-r.done
		delete(m.listeners, id)
	}
}

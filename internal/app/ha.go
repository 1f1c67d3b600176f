package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/leader"
	"github.com/paddock-ci/paddock/internal/leader/fence"
	"github.com/paddock-ci/paddock/internal/store"
)

// replicas is this manager's part in a cluster of replicas on one
// PostgreSQL database (docs/ha.md): the election node, and the poller of
// the current term lives in App.poller.
type replicas struct {
	node *leader.Node
}

// openReplicas joins the election when the store is PostgreSQL; with SQLite
// the manager runs alone and always leads.
func (a *App) openReplicas(ctx context.Context, cfg *config.Config, public string) error {
	if cfg.Store.Driver != "postgres" {
		return nil
	}
	name := cfg.HA.ReplicaName
	if name == "" {
		name, _ = os.Hostname()
	}
	node, err := leader.Open(ctx, leader.NodeOptions{
		DSN: string(cfg.Store.DSN), Lease: cfg.HA.Lease, ID: uuid.NewString(), Name: name, URL: public,
		Version: version(), Logger: a.Logger, Lead: a.lead, OnMessage: a.onBusMessage,
	})
	if err != nil {
		return fmt.Errorf("join the replicas on store.dsn: %w", err)
	}
	a.ha = &replicas{node: node}
	role := func(leading float64) func() float64 {
		return func() float64 {
			if node.Elector.Leading() {
				return leading
			}
			return 1 - leading
		}
	}
	a.Metrics.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "paddock_replica_leader",
			Help: "1 while this replica leads (runs the controller loop), else 0."}, role(1)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "paddock_replica_epoch",
			Help: "Epoch (fencing token) of this replica's current or latest leader term."},
			func() float64 { _, e := node.Elector.Status(); return float64(e) }),
	)
	return nil
}

func version() string {
	if v := os.Getenv("PADDOCK_VERSION"); v != "" {
		return v
	}
	return "dev"
}

// leading says whether this manager runs the controller loop now.
func (a *App) leading() bool { return a.ha == nil || a.ha.node.Elector.Leading() }

// lead runs the leader's work for one term: the controller loop (whose
// startup recovery re-launches pending intents and reconciles), the
// pollers and the scale-set listeners. ctx carries the term, so their
// store writes and provider and forge calls are fenced.
func (a *App) lead(ctx context.Context, _ *fence.Term) {
	p := a.newPoller()
	a.poller.Store(p)
	defer a.poller.Store(nil)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); _ = a.Controller.Run(ctx) }()
	go func() { defer wg.Done(); _ = p.Run(ctx) }()
	go func() { defer wg.Done(); a.ScaleSets.Run(ctx, a.Controller) }()
	wg.Wait()
}

// onBusMessage acts on what another replica asked of the leader.
func (a *App) onBusMessage(msg string) {
	if !a.leading() {
		return
	}
	if f, e, ok := leader.ParsePoll(msg); ok {
		if p := a.poller.Load(); p != nil {
			p.PollNow(f, e)
		}
		return
	}
	// "wake", or "reconnected" (wake-ups may have been lost meanwhile).
	a.Controller.Notify()
}

// forwardNotify passes a follower's wake-up on to the leader.
func (a *App) forwardNotify() {
	if a.ha != nil && !a.ha.node.Elector.Leading() {
		a.ha.node.Bus.Wake()
	}
}

// pollRouter is what the webhook intake asks for an immediate poll: this
// replica's poller while it leads, else the leader's, through the bus.
type pollRouter struct{ a *App }

func (r pollRouter) PollNow(forgeID, entityID string) bool {
	if p := r.a.poller.Load(); p != nil && r.a.leading() {
		return p.PollNow(forgeID, entityID)
	}
	if r.a.ha == nil {
		return false
	}
	r.a.ha.node.Bus.Poll(forgeID, entityID)
	return true
}

func (a *App) role() func() (string, int64) {
	if a.ha == nil {
		return nil
	}
	return func() (string, int64) {
		r, e := a.ha.node.Elector.Status()
		return string(r), e
	}
}

func (a *App) replicaList() func(context.Context) (any, error) {
	if a.ha == nil {
		return nil
	}
	return func(ctx context.Context) (any, error) { return a.ha.node.Replicas(ctx) }
}

// lockSQLite holds an exclusive lock on a file beside the SQLite database
// for as long as the manager runs: two managers on one SQLite file would
// both run the controller loop and make every machine twice. A lock still
// held is asked again for sqliteLockWait: a manager restarted right after a
// crash (systemd, a test's kill -9) can find its predecessor's lock not yet
// released — a machine process it was forking when it died holds a copy of
// the descriptor until its exec closes it.
func lockSQLite(dbPath string) (*os.File, error) {
	path := dbPath + ".lock"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(sqliteLockWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another paddock manager is using the SQLite store %s (lock %s held): "+
				"a SQLite store serves exactly one manager; stop the other one, or run several replicas on "+
				"store.driver: postgres (docs/ha.md)", dbPath, path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sqliteLockWait is how long a start waits for a held SQLite lock.
var sqliteLockWait = 3 * time.Second

// ready is /healthz's readiness: a replica whose heartbeats no longer reach
// the database says unavailable, so a load balancer skips it.
func (a *App) ready() func() error {
	if a.ha == nil {
		return nil
	}
	return a.ha.node.Registry.Reachable
}

// sharedControllerID is controllerID for a store several replicas may open
// at once: on PostgreSQL the id is inserted only if absent and then read
// back, so replicas starting together on a new database agree on one.
func sharedControllerID(ctx context.Context, st store.Store) (string, error) {
	pg, ok := st.(interface{ Pool() *pgxpool.Pool })
	if !ok {
		return controllerID(ctx, st)
	}
	if _, err := pg.Pool().Exec(ctx, `INSERT INTO meta (key, value) VALUES ('controller_id', $1)
		ON CONFLICT (key) DO NOTHING`, uuid.NewString()); err != nil {
		return "", fmt.Errorf("record the controller id: %w", err)
	}
	return st.GetMeta(ctx, "controller_id")
}

package leader

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/paddock-ci/paddock/internal/leader/fence"
)

// NodeOptions describe one replica.
type NodeOptions struct {
	DSN   string
	Lease time.Duration
	// ID is unique per process (the lease holder); Name, URL and Version
	// are shown by `paddock status`.
	ID, Name, URL, Version string
	Logger                 *slog.Logger
	// Lead runs the leader's work for one term (see Options.Lead).
	Lead func(ctx context.Context, term *fence.Term)
	// OnMessage receives the bus's "wake", "poll …" and "reconnected"
	// messages; it decides whether this replica acts on them.
	OnMessage func(msg string)
}

// Node is one replica's part in the cluster: election, bus and heartbeat,
// over a small connection pool of its own.
type Node struct {
	Elector   *Elector
	Bus       *Bus
	Registry  *Registry
	pool      *pgxpool.Pool
	lease     time.Duration
	kick      chan struct{}
	onMessage func(string)
}

// Open connects (failing at once if the database cannot be reached) and
// assembles the node; Run starts it.
func Open(ctx context.Context, o NodeOptions) (*Node, error) {
	cfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("store.dsn: %w", err)
	}
	// Renewals, heartbeats and notifications only: a few connections,
	// never shared with store traffic.
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("leader election: reach the database: %w", err)
	}
	n := &Node{pool: pool, lease: o.Lease, kick: make(chan struct{}, 1)}
	n.Elector, err = New(Options{Backend: NewPG(pool), Holder: o.ID, Lease: o.Lease, Logger: o.Logger, Lead: o.Lead,
		OnRole: func(Role, int64) {
			select {
			case n.kick <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		pool.Close()
		return nil, err
	}
	n.Bus = NewBus(pool, cfg.ConnConfig.Copy(), o.Logger)
	n.Registry = NewRegistry(pool, Replica{ID: o.ID, Name: o.Name, URL: o.URL, Version: o.Version}, o.Lease, o.Logger)
	n.Registry.beat.Store(time.Now().UnixNano()) // just reached it (Ping)
	handle := o.OnMessage
	n.onMessage = func(msg string) {
		if msg == "released" {
			n.Elector.Poke()
			return
		}
		if handle != nil {
			handle(msg)
		}
	}
	return n, nil
}

// Run takes part until ctx ends, then releases a held lease and removes this
// replica's heartbeat row.
func (n *Node) Run(ctx context.Context) {
	var wg sync.WaitGroup
	bctx, cancel := context.WithCancel(ctx)
	wg.Add(2)
	go func() { defer wg.Done(); n.Bus.Run(bctx, n.onMessage) }()
	go func() { defer wg.Done(); n.Registry.Run(bctx, n.Elector.Status, n.kick) }()
	n.Elector.Run(ctx)
	cancel()
	wg.Wait()
}

// Replicas lists every replica's latest heartbeat.
func (n *Node) Replicas(ctx context.Context) ([]Replica, error) { return List(ctx, n.pool, n.lease) }

// Close closes the node's connections (after Run returned).
func (n *Node) Close() { n.pool.Close() }

package leader

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Replica is one `paddock serve` as its latest heartbeat described it.
type Replica struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	URL         string    `json:"url"`
	Version     string    `json:"version"`
	Role        Role      `json:"role"`
	Epoch       int64     `json:"epoch"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	// Stale: no heartbeat for three leases (by the database's clock): the
	// replica is probably gone.
	Stale bool `json:"stale"`
}

// Registry keeps this replica's row in paddock_replicas.
type Registry struct {
	pool  *pgxpool.Pool
	self  Replica
	lease time.Duration
	log   *slog.Logger
	// beat is when the last heartbeat reached the database (unix nanos).
	beat atomic.Int64
}

// Reachable fails when no heartbeat has reached the database for a lease:
// /healthz then says unavailable, so a load balancer sends webhooks and
// machines to a replica that can store them.
func (r *Registry) Reachable() error {
	last := time.Unix(0, r.beat.Load())
	if d := time.Since(last); d > r.lease {
		return fmt.Errorf("database unreachable: last heartbeat %s ago", d.Round(time.Millisecond))
	}
	return nil
}

// NewRegistry describes this replica; Run keeps its row fresh.
func NewRegistry(pool *pgxpool.Pool, self Replica, lease time.Duration, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.Default()
	}
	return &Registry{pool: pool, self: self, lease: lease, log: log}
}

const beatSQL = `INSERT INTO paddock_replicas (id, name, url, version, role, epoch, started_at, heartbeat_at)
VALUES ($1, $2, $3, $4, $5, $6, now(), now())
ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role, epoch = EXCLUDED.epoch, heartbeat_at = now()`

// forgetSQL drops replicas silent for a day: restarts make new ids.
const forgetSQL = `DELETE FROM paddock_replicas WHERE heartbeat_at < now() - interval '1 day'`

// Beat records this replica's role now.
func (r *Registry) Beat(ctx context.Context, role Role, epoch int64) error {
	_, err := r.pool.Exec(ctx, beatSQL, r.self.ID, r.self.Name, r.self.URL, r.self.Version, string(role), epoch)
	return err
}

// Run beats every third of the lease, and at once when kick fires (a role
// change), until ctx ends; it then removes the row.
func (r *Registry) Run(ctx context.Context, status func() (Role, int64), kick <-chan struct{}) {
	t := time.NewTicker(r.lease / 3)
	defer t.Stop()
	failing := false
	for {
		role, epoch := status()
		bctx, cancel := context.WithTimeout(ctx, r.lease/3)
		err := r.Beat(bctx, role, epoch)
		if err == nil && role == Leader {
			_, err = r.pool.Exec(bctx, forgetSQL)
		}
		cancel()
		if err == nil {
			r.beat.Store(time.Now().UnixNano())
		}
		if err != nil && ctx.Err() == nil && !failing {
			r.log.Warn("replica heartbeat failed", "err", err)
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_, _ = r.pool.Exec(dctx, `DELETE FROM paddock_replicas WHERE id = $1`, r.self.ID)
			cancel()
			return
		case <-t.C:
		case <-kick:
		}
	}
}

const listSQL = `SELECT id, name, url, version, role, epoch, started_at, heartbeat_at,
    heartbeat_at < now() - $1 * interval '1 microsecond'
FROM paddock_replicas ORDER BY started_at, id`

// List returns every replica's latest heartbeat.
func List(ctx context.Context, pool *pgxpool.Pool, lease time.Duration) ([]Replica, error) {
	rows, err := pool.Query(ctx, listSQL, micros(3*lease))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Replica{}
	for rows.Next() {
		var x Replica
		var role string
		if err := rows.Scan(&x.ID, &x.Name, &x.URL, &x.Version, &role, &x.Epoch, &x.StartedAt, &x.HeartbeatAt, &x.Stale); err != nil {
			return nil, err
		}
		x.Role = Role(role)
		out = append(out, x)
	}
	return out, rows.Err()
}

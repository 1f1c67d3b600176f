package leader

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PG keeps the lease in PostgreSQL (table paddock_leader, migration 0100).
// It has its own small connection pool, so a burst of store traffic never
// delays a renewal.
type PG struct{ pool *pgxpool.Pool }

// NewPG wraps a pool opened for the election.
func NewPG(pool *pgxpool.Pool) *PG { return &PG{pool: pool} }

// Events is the channel replicas LISTEN on (see Bus).
const Events = "paddock_events"

func micros(d time.Duration) int64 { return d.Microseconds() }

// The database's clock decides expiry, so replicas' clocks never meet.
const acquireSQL = `
INSERT INTO paddock_leader (id, holder, epoch, expires_at, acquired_at)
VALUES (1, $1, 1, now() + $2 * interval '1 microsecond', now())
ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, epoch = paddock_leader.epoch + 1,
    expires_at = EXCLUDED.expires_at, acquired_at = now()
WHERE paddock_leader.expires_at <= now()
RETURNING epoch`

const remainingSQL = `SELECT greatest(extract(epoch FROM expires_at - now()), 0) FROM paddock_leader WHERE id = 1`

// TryAcquire implements Backend.
func (p *PG) TryAcquire(ctx context.Context, holder string, lease time.Duration) (int64, bool, time.Duration, error) {
	var epoch int64
	err := p.pool.QueryRow(ctx, acquireSQL, holder, micros(lease)).Scan(&epoch)
	if err == nil {
		return epoch, true, 0, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, 0, err
	}
	var secs float64
	if err := p.pool.QueryRow(ctx, remainingSQL).Scan(&secs); err != nil {
		return 0, false, 0, err
	}
	return 0, false, time.Duration(secs * float64(time.Second)), nil
}

const renewSQL = `UPDATE paddock_leader SET expires_at = now() + $3 * interval '1 microsecond'
WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > now()`

// Renew implements Backend.
func (p *PG) Renew(ctx context.Context, holder string, epoch int64, lease time.Duration) (bool, error) {
	tag, err := p.pool.Exec(ctx, renewSQL, holder, epoch, micros(lease))
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

const releaseSQL = `WITH r AS (UPDATE paddock_leader SET expires_at = now()
    WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > now() RETURNING 1)
SELECT pg_notify('` + Events + `', 'released') FROM r`

// Release implements Backend, and tells the followers.
func (p *PG) Release(ctx context.Context, holder string, epoch int64) error {
	_, err := p.pool.Exec(ctx, releaseSQL, holder, epoch)
	return err
}

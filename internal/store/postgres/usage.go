package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

// RecordUsage stores u once per instance name: the primary key makes the
// first writer win, however many managers record the same removal.
func (s *Store) RecordUsage(ctx context.Context, u *core.Usage) (bool, error) {
	if u.Instance == "" {
		return false, errors.New("usage: instance is required")
	}
	rec := *u
	rec.EndedAt = rec.EndedAt.UTC()
	data, err := codec.ToJSON(rec)
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO usage (instance, pool_id, tenant_id, entity_id, ended_at, data)
		 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		rec.Instance, rec.PoolID, rec.TenantID, rec.EntityID, codec.Nanos(rec.EndedAt), data)
	if err != nil {
		return false, wrap(err)
	}
	return tag.RowsAffected() == 1, nil
}

// ListUsage returns the matching records, oldest EndedAt first.
func (s *Store) ListUsage(ctx context.Context, f store.UsageFilter) ([]core.Usage, error) {
	var where []string
	var args []any
	add := func(col string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(col, len(args)))
	}
	if f.TenantID != "" {
		add("tenant_id = $%d", f.TenantID)
	}
	if f.EntityID != "" {
		add("entity_id = $%d", f.EntityID)
	}
	if f.PoolID != "" {
		add("pool_id = $%d", f.PoolID)
	}
	if !f.From.IsZero() {
		add("ended_at >= $%d", codec.Nanos(f.From))
	}
	if !f.To.IsZero() {
		add("ended_at < $%d", codec.Nanos(f.To))
	}
	q := "SELECT data FROM usage"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return listJSON[core.Usage](ctx, s.pool, q+" ORDER BY ended_at, instance", args...)
}

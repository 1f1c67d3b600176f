package sqlite

import (
	"context"
	"errors"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// RecordUsage stores u once per instance name (ON CONFLICT DO NOTHING).
func (s *Store) RecordUsage(ctx context.Context, u *core.Usage) (bool, error) {
	if u.Instance == "" {
		return false, errors.New("usage: instance is required")
	}
	rec := *u
	rec.EndedAt = rec.EndedAt.UTC()
	data, err := toJSON(rec)
	if err != nil {
		return false, err
	}
	n, err := affected(s.w.ExecContext(ctx,
		`INSERT INTO usage (instance, pool_id, tenant_id, entity_id, ended_at, data)
		 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		rec.Instance, rec.PoolID, rec.TenantID, rec.EntityID, nanos(rec.EndedAt), data))
	return n == 1, err
}

// ListUsage returns the matching records, oldest EndedAt first.
func (s *Store) ListUsage(ctx context.Context, f store.UsageFilter) ([]core.Usage, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.TenantID != "" {
		add("tenant_id = ?", f.TenantID)
	}
	if f.EntityID != "" {
		add("entity_id = ?", f.EntityID)
	}
	if f.PoolID != "" {
		add("pool_id = ?", f.PoolID)
	}
	if !f.From.IsZero() {
		add("ended_at >= ?", nanos(f.From))
	}
	if !f.To.IsZero() {
		add("ended_at < ?", nanos(f.To))
	}
	q := "SELECT data FROM usage"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return listJSON[core.Usage](ctx, s.r, q+" ORDER BY ended_at, instance", args...)
}

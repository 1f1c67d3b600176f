package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

// RecordDelivery remembers (source, deliveryID). The primary key makes a
// delivery fresh for exactly one manager, however many receive it at once.
func (s *Store) RecordDelivery(ctx context.Context, source, deliveryID string, at time.Time) (bool, error) {
	if deliveryID == "" {
		return false, errors.New("delivery: id is required")
	}
	tag, err := s.pool.Exec(ctx,
		"INSERT INTO deliveries (source, delivery_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
		source, deliveryID, codec.Nanos(at))
	if err != nil {
		return false, wrap(err)
	}
	return tag.RowsAffected() == 1, nil
}

// PurgeDeliveries forgets deliveries recorded before t, batch by batch.
func (s *Store) PurgeDeliveries(ctx context.Context, before time.Time) (int, error) {
	return s.purge(ctx,
		`DELETE FROM deliveries WHERE (source, delivery_id) IN
		   (SELECT source, delivery_id FROM deliveries WHERE at < $1 LIMIT $2)`,
		codec.Nanos(before))
}

// GetMeta returns the value stored under key.
func (s *Store) GetMeta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, "SELECT value FROM meta WHERE key = $1", key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("meta %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("postgres store: get meta: %w", err)
	}
	return v, nil
}

// SetMeta stores value under key, replacing any previous value.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	if key == "" {
		return errors.New("meta: key is required")
	}
	_, err := s.pool.Exec(ctx,
		"INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		key, value)
	if err != nil {
		return fmt.Errorf("postgres store: set meta: %w", err)
	}
	return nil
}

// purgeBatch bounds one retention DELETE so locks are held briefly and
// other managers' writes are never held up long.
const purgeBatch = 500

// purge runs del (a DELETE taking args and then a LIMIT for its key
// subquery) batch by batch until a batch removes fewer than purgeBatch rows.
func (s *Store) purge(ctx context.Context, del string, a ...any) (int, error) {
	total := 0
	for {
		tag, err := s.pool.Exec(ctx, del, append(a, purgeBatch)...)
		if err != nil {
			return total, wrap(err)
		}
		n := int(tag.RowsAffected())
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}

// ListJobsPage returns one page of jobs, newest received first.
func (s *Store) ListJobsPage(ctx context.Context, f store.JobFilter, p store.Page) ([]core.Job, string, error) {
	if err := codec.CheckPage(p); err != nil {
		return nil, "", err
	}
	var a args
	where := jobWhere(f, &a)
	if p.Cursor != "" {
		var c codec.JobCursor
		if err := codec.DecodeCursor(p.Cursor, "jobs", &c, func() string { return c.List }); err != nil {
			return nil, "", err
		}
		where = append(where, fmt.Sprintf("(received_at, entity_id, id) < (%s, %s, %s)",
			a.add(c.Received), a.add(c.EntityID), a.add(c.ID)))
	}
	q := "SELECT data FROM jobs"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	// One more than asked for tells whether a next page exists.
	q += " ORDER BY received_at DESC, entity_id DESC, id DESC LIMIT " + a.add(p.Limit+1)
	js, err := listJSON[core.Job](ctx, s.pool, q, a...)
	if err != nil || len(js) <= p.Limit {
		return js, "", err
	}
	js = js[:p.Limit]
	last := js[len(js)-1]
	return js, codec.EncodeCursor(codec.JobCursor{List: "jobs", Received: codec.Nanos(last.ReceivedAt),
		EntityID: last.EntityID, ID: last.ID}), nil
}

// ListInstancesPage returns one page of instances, oldest first.
func (s *Store) ListInstancesPage(ctx context.Context, f store.InstanceFilter, p store.Page) ([]core.Instance, string, error) {
	if err := codec.CheckPage(p); err != nil {
		return nil, "", err
	}
	var a args
	where := instanceWhere(f, &a)
	if p.Cursor != "" {
		var c codec.InstanceCursor
		if err := codec.DecodeCursor(p.Cursor, "instances", &c, func() string { return c.List }); err != nil {
			return nil, "", err
		}
		where = append(where, fmt.Sprintf("(created_at, name) > (%s, %s)", a.add(c.Created), a.add(c.Name)))
	}
	limit := " LIMIT " + a.add(p.Limit+1)
	is, err := s.queryInstances(ctx, where, a, limit)
	if err != nil || len(is) <= p.Limit {
		return is, "", err
	}
	is = is[:p.Limit]
	last := is[len(is)-1]
	return is, codec.EncodeCursor(codec.InstanceCursor{List: "instances", Created: codec.Nanos(last.CreatedAt), Name: last.Name}), nil
}

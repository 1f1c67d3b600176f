package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

// RecordDelivery remembers (source, deliveryID). ON CONFLICT DO NOTHING is
// understood by SQLite and PostgreSQL alike, and a duplicate shows up as zero
// rows inserted without aborting the statement.
func (s *Store) RecordDelivery(ctx context.Context, source, deliveryID string, at time.Time) (bool, error) {
	if deliveryID == "" {
		return false, errors.New("delivery: id is required")
	}
	n, err := affected(s.w.ExecContext(ctx,
		"INSERT INTO deliveries (source, delivery_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
		source, deliveryID, codec.Nanos(at)))
	return n == 1, err
}

// PurgeDeliveries forgets deliveries recorded before t, batch by batch.
func (s *Store) PurgeDeliveries(ctx context.Context, before time.Time) (int, error) {
	return s.purge(ctx,
		"DELETE FROM deliveries WHERE rowid IN (SELECT rowid FROM deliveries WHERE at < ? LIMIT ?)",
		codec.Nanos(before))
}

// GetMeta returns the value stored under key.
func (s *Store) GetMeta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.r.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("meta %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("sqlite store: get meta: %w", err)
	}
	return v, nil
}

// SetMeta stores value under key, replacing any previous value.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	if key == "" {
		return errors.New("meta: key is required")
	}
	_, err := s.w.ExecContext(ctx,
		"INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		key, value)
	if err != nil {
		return fmt.Errorf("sqlite store: set meta: %w", err)
	}
	return nil
}

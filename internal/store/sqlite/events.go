package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

// maxEventPage bounds one ListEventsAfter answer whatever the caller asks.
const maxEventPage = 1000

// AppendEvents adds evs in one transaction. Every write goes through the one
// write connection, so ids (AUTOINCREMENT) increase in commit order.
func (s *Store) AppendEvents(ctx context.Context, evs []*core.Event) error {
	if len(evs) == 0 {
		return nil
	}
	t := now()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, "INSERT INTO events (at, kind, data) VALUES (?, ?, ?)")
		if err != nil {
			return fmt.Errorf("sqlite store: append events: %w", err)
		}
		defer stmt.Close()
		for _, e := range evs {
			if e.Kind == "" {
				return errors.New("event: kind is required")
			}
			rec := *e
			if rec.At.IsZero() {
				rec.At = t
			}
			rec.At = rec.At.UTC()
			rec.ID = 0
			data, err := codec.ToJSON(rec)
			if err != nil {
				return err
			}
			res, err := stmt.ExecContext(ctx, codec.Nanos(rec.At), string(rec.Kind), data)
			if err != nil {
				return fmt.Errorf("sqlite store: append event: %w", err)
			}
			if rec.ID, err = res.LastInsertId(); err != nil {
				return err
			}
			*e = rec
		}
		return nil
	})
}

// ListEventsAfter returns up to limit events with id > after, oldest first.
func (s *Store) ListEventsAfter(ctx context.Context, after int64, limit int) ([]core.Event, error) {
	limit = min(max(limit, 1), maxEventPage)
	rows, err := s.r.QueryContext(ctx,
		"SELECT id, data FROM events WHERE id > ? ORDER BY id LIMIT ?", after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: list events: %w", err)
	}
	defer rows.Close()
	var out []core.Event
	for rows.Next() {
		var (
			id   int64
			data string
			e    core.Event
		)
		if err := rows.Scan(&id, &data); err != nil {
			return nil, fmt.Errorf("sqlite store: list events: %w", err)
		}
		if err := codec.FromJSON(data, &e); err != nil {
			return nil, err
		}
		e.ID = id
		out = append(out, e)
	}
	return out, rows.Err()
}

// PruneEvents deletes events that happened before t, batch by batch.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	return s.purge(ctx,
		"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ? LIMIT ?)", codec.Nanos(before))
}

// LastEventID returns the newest event's id, or 0 for an empty log.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := s.r.QueryRowContext(ctx, "SELECT max(id) FROM events").Scan(&id); err != nil {
		return 0, fmt.Errorf("sqlite store: last event id: %w", err)
	}
	return id.Int64, nil
}

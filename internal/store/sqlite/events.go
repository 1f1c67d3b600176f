package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// maxEventPage bounds one ListEventsAfter answer whatever the caller asks.
const maxEventPage = 1000

// AppendEvents adds evs in one transaction. Every write goes through the one
// write connection, so ids (AUTOINCREMENT) increase in commit order.
func (s *Store) AppendEvents(ctx context.Context, evs []*core.Event) error {
	if len(evs) == 0 {
		return nil
	}
	// Encode before taking the one write connection, so the transaction
	// holds it only for the inserts.
	t := now()
	recs := make([]core.Event, len(evs))
	datas := make([]string, len(evs))
	for n, e := range evs {
		if e.Kind == "" {
			return errors.New("event: kind is required")
		}
		rec := *e
		if rec.At.IsZero() {
			rec.At = t
		}
		rec.At, rec.ID = rec.At.UTC(), 0
		data, err := toJSON(rec)
		if err != nil {
			return err
		}
		recs[n], datas[n] = rec, data
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, "INSERT INTO events (at, kind, data) VALUES (?, ?, ?)")
		if err != nil {
			return fmt.Errorf("sqlite store: append events: %w", err)
		}
		defer stmt.Close()
		for n := range recs {
			res, err := stmt.ExecContext(ctx, nanos(recs[n].At), string(recs[n].Kind), datas[n])
			if err != nil {
				return fmt.Errorf("sqlite store: append event: %w", err)
			}
			if recs[n].ID, err = res.LastInsertId(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for n, e := range evs {
		*e = recs[n]
	}
	return nil
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
		if err := fromJSON(data, &e); err != nil {
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
		"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ? LIMIT ?)", nanos(before))
}

// LastEventID returns the newest event's id, or 0 for an empty log.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := s.r.QueryRowContext(ctx, "SELECT max(id) FROM events").Scan(&id); err != nil {
		return 0, fmt.Errorf("sqlite store: last event id: %w", err)
	}
	return id.Int64, nil
}

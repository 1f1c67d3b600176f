package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

// maxEventPage bounds one ListEventsAfter answer whatever the caller asks.
const maxEventPage = 1000

// AppendEvents adds evs in one transaction. A sequence hands out ids in the
// order transactions ask, not the order they commit: a reader could see id 6
// before the transaction holding id 5 commits, and never look back. So
// appenders (from every manager) take the table's EXCLUSIVE lock, which
// readers do not wait for, and the lock is released only after the commit is
// visible: ids then increase in commit order.
func (s *Store) AppendEvents(ctx context.Context, evs []*core.Event) error {
	if len(evs) == 0 {
		return nil
	}
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
		rec.At = rec.At.UTC()
		rec.ID = 0
		data, err := codec.ToJSON(rec)
		if err != nil {
			return err
		}
		recs[n], datas[n] = rec, data
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "LOCK TABLE events IN EXCLUSIVE MODE"); err != nil {
			return err
		}
		batch := &pgx.Batch{}
		for n, rec := range recs {
			batch.Queue("INSERT INTO events (at, kind, data) VALUES ($1, $2, $3) RETURNING id",
				codec.Nanos(rec.At), string(rec.Kind), datas[n])
		}
		br := tx.SendBatch(ctx, batch)
		for n := range recs {
			if err := br.QueryRow().Scan(&recs[n].ID); err != nil {
				br.Close()
				return fmt.Errorf("postgres store: append event: %w", err)
			}
		}
		return br.Close()
	})
	if err != nil {
		return err
	}
	for n := range evs {
		*evs[n] = recs[n]
	}
	return nil
}

// ListEventsAfter returns up to limit events with id > after, oldest first.
func (s *Store) ListEventsAfter(ctx context.Context, after int64, limit int) ([]core.Event, error) {
	limit = min(max(limit, 1), maxEventPage)
	rows, err := s.pool.Query(ctx, "SELECT id, data FROM events WHERE id > $1 ORDER BY id LIMIT $2", after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres store: list events: %w", err)
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
			return nil, fmt.Errorf("postgres store: list events: %w", err)
		}
		if err := codec.FromJSON(data, &e); err != nil {
			return nil, err
		}
		e.ID = id
		out = append(out, e)
	}
	return out, wrap(rows.Err())
}

// PruneEvents deletes events that happened before t, batch by batch.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	return s.purge(ctx,
		"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < $1 LIMIT $2)", codec.Nanos(before))
}

// LastEventID returns the newest event's id, or 0 for an empty log.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id *int64
	if err := s.pool.QueryRow(ctx, "SELECT max(id) FROM events").Scan(&id); err != nil {
		return 0, fmt.Errorf("postgres store: last event id: %w", err)
	}
	if id == nil {
		return 0, nil
	}
	return *id, nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

func getJob(ctx context.Context, q queryer, entityID string, id int64, lock string) (core.Job, error) {
	var j core.Job
	err := scanJSON(q.QueryRow(ctx, "SELECT data FROM jobs WHERE entity_id = $1 AND id = $2"+lock, entityID, id), &j)
	if errors.Is(err, pgx.ErrNoRows) {
		return j, fmt.Errorf("job %d of entity %q: %w", id, entityID, store.ErrNotFound)
	}
	return j, wrap(err)
}

func updateJobRow(ctx context.Context, tx pgx.Tx, j core.Job) error {
	data, err := codec.ToJSON(j)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx,
		"UPDATE jobs SET state = $1, received_at = $2, updated_at = $3, data = $4 WHERE entity_id = $5 AND id = $6",
		string(j.State), codec.Nanos(j.ReceivedAt), codec.Nanos(j.UpdatedAt), data, j.EntityID, j.ID)
	return mapWriteErr(fmt.Sprintf("job %d", j.ID), err)
}

// UpsertJob inserts j or merges it into the stored job (see store.Store).
// On return *j holds the job as stored, whether or not anything changed.
//
// Two managers may hear of one job at once (a webhook on each): the insert
// is ON CONFLICT DO NOTHING, and the loser merges into the winner's row under
// its row lock, so one row results and no report is lost.
func (s *Store) UpsertJob(ctx context.Context, j *core.Job) (bool, error) {
	if err := codec.ValidateJob(j); err != nil {
		return false, err
	}
	in := *j
	codec.UTCTimes(&in)
	var (
		stored  core.Job
		changed bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		upd := in
		for {
			old, err := getJob(ctx, tx, upd.EntityID, upd.ID, " FOR UPDATE")
			if errors.Is(err, store.ErrNotFound) {
				t := now()
				if upd.ReceivedAt.IsZero() {
					upd.ReceivedAt = t
				}
				upd.UpdatedAt = t
				data, err := codec.ToJSON(upd)
				if err != nil {
					return err
				}
				tag, err := tx.Exec(ctx,
					`INSERT INTO jobs (entity_id, id, state, received_at, updated_at, data) VALUES ($1, $2, $3, $4, $5, $6)
					 ON CONFLICT (entity_id, id) DO NOTHING`,
					upd.EntityID, upd.ID, string(upd.State), codec.Nanos(upd.ReceivedAt), codec.Nanos(upd.UpdatedAt), data)
				if err != nil {
					return mapWriteErr(fmt.Sprintf("job %d", upd.ID), err)
				}
				if tag.RowsAffected() == 1 {
					stored, changed = upd, true
					return nil
				}
				upd = in // another manager inserted it first: merge into theirs
				continue
			}
			if err != nil {
				return err
			}
			m, write := codec.UpsertOnto(old, upd, now())
			stored, changed = m, write
			if !write {
				return nil
			}
			return updateJobRow(ctx, tx, m)
		}
	})
	if err != nil {
		return false, err
	}
	*j = stored
	return changed, nil
}

// GetJob returns one job.
func (s *Store) GetJob(ctx context.Context, entityID string, id int64) (core.Job, error) {
	return getJob(ctx, s.pool, entityID, id, "")
}

func jobWhere(f store.JobFilter, a *args) []string {
	var where []string
	if f.EntityID != "" {
		where = append(where, "entity_id = "+a.add(f.EntityID))
	}
	if f.ID != 0 {
		where = append(where, "id = "+a.add(f.ID))
	}
	if len(f.States) > 0 {
		where = append(where, in(a, "state", f.States))
	}
	return where
}

// ListJobs returns the jobs matching f: oldest received first, or, when
// f.Limit is set, the newest f.Limit jobs newest first.
func (s *Store) ListJobs(ctx context.Context, f store.JobFilter) ([]core.Job, error) {
	var a args
	where := jobWhere(f, &a)
	q := "SELECT data FROM jobs"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Limit > 0 {
		q += " ORDER BY received_at DESC, entity_id DESC, id DESC LIMIT " + a.add(f.Limit)
	} else {
		q += " ORDER BY received_at, entity_id, id"
	}
	return listJSON[core.Job](ctx, s.pool, q, a...)
}

// UpdateJob applies fn to a stored job with its row locked. The key
// cannot change and the state may only move forward; ReceivedAt is kept.
func (s *Store) UpdateJob(ctx context.Context, entityID string, id int64, fn func(*core.Job) error) (core.Job, error) {
	var out core.Job
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = updateJob(ctx, tx, entityID, id, fn)
		return err
	})
	if err != nil {
		return core.Job{}, err
	}
	return out, nil
}

// UpdateJobs applies fn to several jobs in one transaction: all or nothing.
// Rows are locked in key order first, so two managers updating overlapping
// sets wait for each other instead of deadlocking.
func (s *Store) UpdateJobs(ctx context.Context, keys []store.JobKey, fn func(*core.Job) error) error {
	if len(keys) == 0 {
		return nil
	}
	sorted := append([]store.JobKey(nil), keys...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].EntityID != sorted[j].EntityID {
			return sorted[i].EntityID < sorted[j].EntityID
		}
		return sorted[i].ID < sorted[j].ID
	})
	return s.inTx(ctx, func(tx pgx.Tx) error {
		for _, k := range sorted {
			if _, err := tx.Exec(ctx, "SELECT 1 FROM jobs WHERE entity_id = $1 AND id = $2 FOR UPDATE", k.EntityID, k.ID); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if _, err := updateJob(ctx, tx, k.EntityID, k.ID, fn); err != nil {
				return err
			}
		}
		return nil
	})
}

func updateJob(ctx context.Context, tx pgx.Tx, entityID string, id int64, fn func(*core.Job) error) (core.Job, error) {
	old, err := getJob(ctx, tx, entityID, id, " FOR UPDATE")
	if err != nil {
		return core.Job{}, err
	}
	cur, err := codec.ApplyJob(old, fn, now())
	if err != nil {
		return core.Job{}, err
	}
	if err := updateJobRow(ctx, tx, cur); err != nil {
		return core.Job{}, err
	}
	return cur, nil
}

// PurgeJobs deletes completed jobs last updated before t.
func (s *Store) PurgeJobs(ctx context.Context, before time.Time) (int, error) {
	return s.purge(ctx,
		`DELETE FROM jobs WHERE (entity_id, id) IN
		   (SELECT entity_id, id FROM jobs WHERE state = $1 AND updated_at < $2 LIMIT $3)`,
		string(core.JobCompleted), codec.Nanos(before))
}

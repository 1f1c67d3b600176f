package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

func getJob(ctx context.Context, q queryer, entityID string, id int64) (core.Job, error) {
	var j core.Job
	err := scanJSON(q.QueryRowContext(ctx, "SELECT data FROM jobs WHERE entity_id = ? AND id = ?", entityID, id), &j)
	if errors.Is(err, sql.ErrNoRows) {
		return j, fmt.Errorf("job %d of entity %q: %w", id, entityID, store.ErrNotFound)
	}
	return j, err
}

func writeJob(ctx context.Context, tx *sql.Tx, j core.Job, insert bool) error {
	data, err := codec.ToJSON(j)
	if err != nil {
		return err
	}
	if insert {
		_, err = tx.ExecContext(ctx,
			"INSERT INTO jobs (entity_id, id, state, received_at, updated_at, data) VALUES (?, ?, ?, ?, ?, ?)",
			j.EntityID, j.ID, string(j.State), codec.Nanos(j.ReceivedAt), codec.Nanos(j.UpdatedAt), data)
	} else {
		_, err = tx.ExecContext(ctx,
			"UPDATE jobs SET state = ?, received_at = ?, updated_at = ?, data = ? WHERE entity_id = ? AND id = ?",
			string(j.State), codec.Nanos(j.ReceivedAt), codec.Nanos(j.UpdatedAt), data, j.EntityID, j.ID)
	}
	return mapWriteErr(fmt.Sprintf("job %d", j.ID), err)
}

// UpsertJob inserts j or merges it into the stored job (see store.Store).
// On return *j holds the job as stored, whether or not anything changed.
func (s *Store) UpsertJob(ctx context.Context, j *core.Job) (bool, error) {
	if err := codec.ValidateJob(j); err != nil {
		return false, err
	}
	upd := *j
	codec.UTCTimes(&upd)
	var (
		stored  core.Job
		changed bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getJob(ctx, tx, upd.EntityID, upd.ID)
		if errors.Is(err, store.ErrNotFound) {
			t := now()
			if upd.ReceivedAt.IsZero() {
				upd.ReceivedAt = t
			}
			upd.UpdatedAt = t
			stored, changed = upd, true
			return writeJob(ctx, tx, upd, true)
		}
		if err != nil {
			return err
		}
		m, write := codec.UpsertOnto(old, upd, now())
		stored, changed = m, write
		if !write {
			return nil
		}
		return writeJob(ctx, tx, m, false)
	})
	if err != nil {
		return false, err
	}
	*j = stored
	return changed, nil
}

// GetJob returns one job.
func (s *Store) GetJob(ctx context.Context, entityID string, id int64) (core.Job, error) {
	return getJob(ctx, s.r, entityID, id)
}

// ListJobs returns the jobs matching f: oldest received first, or, when
// f.Limit is set, the newest f.Limit jobs newest first.
func (s *Store) ListJobs(ctx context.Context, f store.JobFilter) ([]core.Job, error) {
	where, args := jobWhere(f)
	q := "SELECT data FROM jobs"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Limit > 0 {
		q += " ORDER BY received_at DESC, entity_id DESC, id DESC LIMIT ?"
		args = append(args, f.Limit)
	} else {
		q += " ORDER BY received_at, entity_id, id"
	}
	return listJSON[core.Job](ctx, s.r, q, args...)
}

// UpdateJob applies fn to a stored job in one write transaction. The key
// cannot change and the state may only move forward; ReceivedAt is kept.
func (s *Store) UpdateJob(ctx context.Context, entityID string, id int64, fn func(*core.Job) error) (core.Job, error) {
	var out core.Job
	err := s.inTx(ctx, func(tx *sql.Tx) error {
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
func (s *Store) UpdateJobs(ctx context.Context, keys []store.JobKey, fn func(*core.Job) error) error {
	if len(keys) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := updateJob(ctx, tx, k.EntityID, k.ID, fn); err != nil {
				return err
			}
		}
		return nil
	})
}

func updateJob(ctx context.Context, tx *sql.Tx, entityID string, id int64, fn func(*core.Job) error) (core.Job, error) {
	old, err := getJob(ctx, tx, entityID, id)
	if err != nil {
		return core.Job{}, err
	}
	cur, err := codec.ApplyJob(old, fn, now())
	if err != nil {
		return core.Job{}, err
	}
	if err := writeJob(ctx, tx, cur, false); err != nil {
		return core.Job{}, err
	}
	return cur, nil
}

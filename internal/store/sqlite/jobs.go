package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

func validateJob(j *core.Job) error {
	switch {
	case j.EntityID == "":
		return errors.New("job: entity_id is required")
	case j.ID == 0:
		return errors.New("job: id is required")
	case !j.State.Valid():
		return fmt.Errorf("job %d: unknown state %q", j.ID, j.State)
	}
	return nil
}

// utcTimes normalises a job's times so that equal instants encode equally,
// which is how mergeJob's result is compared with the stored job.
func utcTimes(j *core.Job) {
	for _, t := range []*time.Time{&j.QueuedAt, &j.ReceivedAt, &j.StartedAt, &j.CompletedAt, &j.UpdatedAt} {
		*t = t.UTC()
	}
}

// mergeJob folds what a later report says into the stored job. Fields the
// forge fills in as the job progresses are taken when the report has them;
// descriptive fields only fill gaps; the scheduler's own fields (PoolID,
// Note) are kept unless the report sets them.
func mergeJob(old, upd core.Job) core.Job {
	m := old
	setStr := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setStr(&m.RunnerName, upd.RunnerName)
	setStr(&m.Conclusion, upd.Conclusion)
	setStr(&m.PoolID, upd.PoolID)
	setStr(&m.Note, upd.Note)
	if !upd.StartedAt.IsZero() {
		m.StartedAt = upd.StartedAt
	}
	if !upd.CompletedAt.IsZero() {
		m.CompletedAt = upd.CompletedAt
	}
	if len(m.Labels) == 0 && len(upd.Labels) > 0 {
		m.Labels = upd.Labels
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&m.Repository, upd.Repository)
	fill(&m.Name, upd.Name)
	fill(&m.Workflow, upd.Workflow)
	if m.RunID == 0 {
		m.RunID = upd.RunID
	}
	if m.RunAttempt == 0 {
		m.RunAttempt = upd.RunAttempt
	}
	if m.QueuedAt.IsZero() {
		m.QueuedAt = upd.QueuedAt
	}
	return m
}

func getJob(ctx context.Context, q queryer, entityID string, id int64) (core.Job, error) {
	var j core.Job
	err := scanJSON(q.QueryRowContext(ctx, "SELECT data FROM jobs WHERE entity_id = ? AND id = ?", entityID, id), &j)
	if errors.Is(err, sql.ErrNoRows) {
		return j, fmt.Errorf("job %d of entity %q: %w", id, entityID, store.ErrNotFound)
	}
	return j, err
}

func writeJob(ctx context.Context, tx *sql.Tx, j core.Job, insert bool) error {
	data, err := toJSON(j)
	if err != nil {
		return err
	}
	if insert {
		_, err = tx.ExecContext(ctx,
			"INSERT INTO jobs (entity_id, id, state, received_at, updated_at, data) VALUES (?, ?, ?, ?, ?, ?)",
			j.EntityID, j.ID, string(j.State), nanos(j.ReceivedAt), nanos(j.UpdatedAt), data)
	} else {
		_, err = tx.ExecContext(ctx,
			"UPDATE jobs SET state = ?, received_at = ?, updated_at = ?, data = ? WHERE entity_id = ? AND id = ?",
			string(j.State), nanos(j.ReceivedAt), nanos(j.UpdatedAt), data, j.EntityID, j.ID)
	}
	return mapWriteErr(fmt.Sprintf("job %d", j.ID), err)
}

// UpsertJob inserts j or merges it into the stored job (see store.Store).
// On return *j holds the job as stored, whether or not anything changed.
func (s *Store) UpsertJob(ctx context.Context, j *core.Job) (bool, error) {
	if err := validateJob(j); err != nil {
		return false, err
	}
	upd := *j
	utcTimes(&upd)
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
		stored = old
		if !old.State.CanTransition(upd.State) {
			return nil // a late report of an earlier state: keep what we know
		}
		m := mergeJob(old, upd)
		m.State = upd.State
		before, _ := toJSON(old)
		after, _ := toJSON(m)
		if before == after {
			return nil
		}
		m.UpdatedAt = now()
		stored, changed = m, true
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
	cur := old
	cur.Labels = append([]string(nil), old.Labels...)
	if err := fn(&cur); err != nil {
		return core.Job{}, err
	}
	if cur.EntityID != old.EntityID || cur.ID != old.ID {
		return core.Job{}, fmt.Errorf("job %d: entity_id and id cannot change", old.ID)
	}
	if !cur.State.Valid() || !old.State.CanTransition(cur.State) {
		return core.Job{}, &core.ErrTransition{Kind: "job", From: string(old.State), To: string(cur.State)}
	}
	utcTimes(&cur)
	cur.ReceivedAt = old.ReceivedAt
	cur.UpdatedAt = now()
	if err := writeJob(ctx, tx, cur, false); err != nil {
		return core.Job{}, err
	}
	return cur, nil
}

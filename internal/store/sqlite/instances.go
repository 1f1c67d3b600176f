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
	"github.com/paddock-ci/paddock/internal/store/codec"
)

// TokenHash and TokenUsed are hidden from JSON (json:"-") so they never leak
// through the API; the store keeps them in their own columns instead.
const instanceCols = "data, token_hash, token_used"

func scanInstance(row interface{ Scan(...any) error }) (core.Instance, error) {
	var (
		i    core.Instance
		data string
		used int
	)
	if err := row.Scan(&data, &i.TokenHash, &used); err != nil {
		return i, err
	}
	hash := i.TokenHash
	if err := codec.FromJSON(data, &i); err != nil {
		return i, err
	}
	i.TokenHash, i.TokenUsed = hash, used != 0
	return i, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateInstance records a new instance. ID is filled if empty, State defaults
// to pending_create and Runner to pending; all timestamps are stamped now.
// The pool must exist; a taken name gives store.ErrConflict.
func (s *Store) CreateInstance(ctx context.Context, i *core.Instance) error {
	return s.CreateInstances(ctx, []*core.Instance{i})
}

// CreateInstances records several instances in one transaction: all or none.
// The controller plans a burst's machines with it, so a 200-job burst costs
// one commit instead of 200.
func (s *Store) CreateInstances(ctx context.Context, is []*core.Instance) error {
	recs := make([]core.Instance, len(is))
	datas := make([]string, len(is))
	t := now()
	for n, i := range is {
		rec, err := codec.NewInstance(*i, newID, t)
		if err != nil {
			return err
		}
		data, err := codec.ToJSON(rec)
		if err != nil {
			return err
		}
		recs[n], datas[n] = rec, data
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		pools := map[string]bool{}
		for n, rec := range recs {
			if !pools[rec.PoolID] {
				if err := requireRow(ctx, tx, "pools", "pool", rec.PoolID); err != nil {
					return err
				}
				pools[rec.PoolID] = true
			}
			_, err := tx.ExecContext(ctx,
				`INSERT INTO instances (id, name, pool_id, state, token_hash, token_used, created_at, updated_at, data)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				rec.ID, rec.Name, rec.PoolID, string(rec.State), rec.TokenHash, boolInt(rec.TokenUsed),
				codec.Nanos(rec.CreatedAt), codec.Nanos(rec.UpdatedAt), datas[n])
			if err := mapWriteErr(fmt.Sprintf("instance %q", rec.Name), err); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for n := range is {
		*is[n] = recs[n]
	}
	return nil
}

func getInstance(ctx context.Context, q queryer, ref string) (core.Instance, error) {
	for _, col := range []string{"id", "name"} {
		i, err := scanInstance(q.QueryRowContext(ctx, "SELECT "+instanceCols+" FROM instances WHERE "+col+" = ?", ref))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		return i, err
	}
	return core.Instance{}, notFound("instance", ref)
}

// GetInstance returns the instance with that id or name.
func (s *Store) GetInstance(ctx context.Context, ref string) (core.Instance, error) {
	return getInstance(ctx, s.r, ref)
}

// GetInstanceByTokenHash returns the instance whose token hashes to h.
func (s *Store) GetInstanceByTokenHash(ctx context.Context, h string) (core.Instance, error) {
	if h == "" {
		// Instances without a token have an empty hash; never match them.
		return core.Instance{}, notFound("instance with token hash", h)
	}
	i, err := scanInstance(s.r.QueryRowContext(ctx,
		"SELECT "+instanceCols+" FROM instances WHERE token_hash = ? LIMIT 1", h))
	if errors.Is(err, sql.ErrNoRows) {
		return i, fmt.Errorf("instance with that token hash: %w", store.ErrNotFound)
	}
	return i, err
}

func instanceWhere(f store.InstanceFilter) ([]string, []any) {
	var (
		where []string
		args  []any
	)
	if f.PoolID != "" {
		where = append(where, "pool_id = ?")
		args = append(args, f.PoolID)
	}
	if len(f.States) > 0 {
		where, args = append(where, inList("state", len(f.States))), appendStrings(args, f.States)
	}
	if f.Live {
		where = append(where, "state <> ?")
		args = append(args, string(core.InstanceDeleted))
	}
	return where, args
}

// ListInstances returns the instances matching f, oldest first.
func (s *Store) ListInstances(ctx context.Context, f store.InstanceFilter) ([]core.Instance, error) {
	where, args := instanceWhere(f)
	return s.queryInstances(ctx, where, args, "")
}

// queryInstances lists instances matching where in (created_at, name) order;
// tail (such as a LIMIT) is appended with its args.
func (s *Store) queryInstances(ctx context.Context, where []string, args []any, tail string, tailArgs ...any) ([]core.Instance, error) {
	return s.queryInstancesOn(ctx, s.r, where, args, " ORDER BY created_at, name"+tail, tailArgs...)
}

// queryInstancesOn is queryInstances on db (a read transaction, for one
// consistent view with other reads) with tail (ORDER BY and any LIMIT) its own.
func (s *Store) queryInstancesOn(ctx context.Context, db queryer, where []string, args []any, tail string, tailArgs ...any) ([]core.Instance, error) {
	q := "SELECT id, " + instanceCols + " FROM instances"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += tail
	rows, err := db.QueryContext(ctx, q, append(args, tailArgs...)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: list instances: %w", err)
	}
	defer rows.Close()
	out := []core.Instance{}
	for rows.Next() {
		var (
			id, hash string
			data     sql.RawBytes
			used     int
		)
		if err := rows.Scan(&id, &data, &hash, &used); err != nil {
			return nil, err
		}
		i, ok := s.memo.get(id, data)
		if !ok {
			if err := fromJSON(string(data), &i); err != nil {
				return nil, err
			}
			s.memo.put(id, data, i)
		}
		i.TokenHash, i.TokenUsed = hash, used != 0
		out = append(out, i)
	}
	return out, rows.Err()
}

// UpdateInstance applies fn to the instance inside one write transaction.
// A refused transition or an fn error rolls back, so nothing is written.
// StateSince moves when State or Runner changes (timeouts are measured from
// the last change of either, as core.Instance documents); RunnerSince moves
// when Runner changes.
func (s *Store) UpdateInstance(ctx context.Context, ref string, fn func(*core.Instance) error) (core.Instance, error) {
	var out core.Instance
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getInstance(ctx, tx, ref)
		if err != nil {
			return err
		}
		cur, err := codec.ApplyInstance(old, fn, now())
		if err != nil {
			return err
		}
		data, err := codec.ToJSON(cur)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE instances SET pool_id = ?, state = ?, token_hash = ?, token_used = ?, updated_at = ?, data = ?
			 WHERE id = ?`,
			cur.PoolID, string(cur.State), cur.TokenHash, boolInt(cur.TokenUsed), codec.Nanos(cur.UpdatedAt), data, cur.ID)
		if err != nil {
			return mapWriteErr(fmt.Sprintf("instance %q", cur.Name), err)
		}
		out = cur
		return nil
	})
	if err != nil {
		return core.Instance{}, err
	}
	return out, nil
}

// PurgeInstances deletes deleted instances last updated before t, batch by batch.
func (s *Store) PurgeInstances(ctx context.Context, before time.Time) (int, error) {
	return s.purge(ctx,
		"DELETE FROM instances WHERE rowid IN (SELECT rowid FROM instances WHERE state = ? AND updated_at < ? LIMIT ?)",
		string(core.InstanceDeleted), codec.Nanos(before))
}

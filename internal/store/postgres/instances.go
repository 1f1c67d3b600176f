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

// TokenHash and TokenUsed are hidden from JSON (json:"-") so they never leak
// through the API; the store keeps them in their own columns instead.
const instanceCols = "data, token_hash, token_used"

func scanInstance(row pgx.Row) (core.Instance, error) {
	var (
		i    core.Instance
		data string
		used int32
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

func boolInt(b bool) int32 {
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
// The unique name is what keeps two managers from planning the same machine.
func (s *Store) CreateInstances(ctx context.Context, is []*core.Instance) error {
	recs := make([]core.Instance, len(is))
	datas := make([]string, len(is))
	t := now()
	for n, i := range is {
		rec, err := codec.NewInstance(*i, newID, t)
		if err != nil {
			return err
		}
		recs[n] = rec
		if datas[n], err = codec.ToJSON(rec); err != nil {
			return err
		}
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		pools := map[string]bool{}
		batch := &pgx.Batch{}
		for n, rec := range recs {
			if !pools[rec.PoolID] {
				if err := shareRow(ctx, tx, "pools", "pool", rec.PoolID); err != nil {
					return err
				}
				pools[rec.PoolID] = true
			}
			batch.Queue(`INSERT INTO instances (id, name, pool_id, state, token_hash, token_used, created_at, updated_at, data)
				 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				rec.ID, rec.Name, rec.PoolID, string(rec.State), rec.TokenHash, boolInt(rec.TokenUsed),
				codec.Nanos(rec.CreatedAt), codec.Nanos(rec.UpdatedAt), datas[n])
		}
		// One round trip for a whole burst's machines.
		br := tx.SendBatch(ctx, batch)
		for _, rec := range recs {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return mapWriteErr(fmt.Sprintf("instance %q", rec.Name), err)
			}
		}
		return br.Close()
	})
	if err != nil {
		return err
	}
	for n := range is {
		*is[n] = recs[n]
	}
	return nil
}

func getInstance(ctx context.Context, q queryer, ref, lock string) (core.Instance, error) {
	for _, col := range []string{"id", "name"} {
		i, err := scanInstance(q.QueryRow(ctx, "SELECT "+instanceCols+" FROM instances WHERE "+col+" = $1"+lock, ref))
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		return i, wrap(err)
	}
	return core.Instance{}, notFound("instance", ref)
}

// GetInstance returns the instance with that id or name.
func (s *Store) GetInstance(ctx context.Context, ref string) (core.Instance, error) {
	return getInstance(ctx, s.pool, ref, "")
}

// GetInstanceByTokenHash returns the instance whose token hashes to h.
func (s *Store) GetInstanceByTokenHash(ctx context.Context, h string) (core.Instance, error) {
	if h == "" {
		// Instances without a token have an empty hash; never match them.
		return core.Instance{}, notFound("instance with token hash", h)
	}
	i, err := scanInstance(s.pool.QueryRow(ctx,
		"SELECT "+instanceCols+" FROM instances WHERE token_hash = $1 LIMIT 1", h))
	if errors.Is(err, pgx.ErrNoRows) {
		return i, fmt.Errorf("instance with that token hash: %w", store.ErrNotFound)
	}
	return i, wrap(err)
}

func instanceWhere(f store.InstanceFilter, a *args) []string {
	var where []string
	if f.PoolID != "" {
		where = append(where, "pool_id = "+a.add(f.PoolID))
	}
	if len(f.States) > 0 {
		where = append(where, in(a, "state", f.States))
	}
	if f.Live {
		where = append(where, "state <> "+a.add(string(core.InstanceDeleted)))
	}
	return where
}

// ListInstances returns the instances matching f, oldest first.
func (s *Store) ListInstances(ctx context.Context, f store.InstanceFilter) ([]core.Instance, error) {
	var a args
	return s.queryInstances(ctx, instanceWhere(f, &a), a, "")
}

// queryInstances lists instances matching where in (created_at, name) order;
// tail (such as a LIMIT) is appended.
func (s *Store) queryInstances(ctx context.Context, where []string, a args, tail string) ([]core.Instance, error) {
	return queryInstancesOn(ctx, s.pool, where, a, tail)
}

// queryInstancesOn is queryInstances on db (a read transaction, for one
// consistent view with other reads).
func queryInstancesOn(ctx context.Context, db queryer, where []string, a args, tail string) ([]core.Instance, error) {
	q := "SELECT " + instanceCols + " FROM instances"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at, name" + tail
	rows, err := db.Query(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("postgres store: list instances: %w", err)
	}
	defer rows.Close()
	out := []core.Instance{}
	for rows.Next() {
		i, err := scanInstance(rows)
		if err != nil {
			return nil, wrap(err)
		}
		out = append(out, i)
	}
	return out, wrap(rows.Err())
}

// UpdateInstance applies fn to the instance with its row locked, so a
// concurrent update by any manager waits and then sees this one's result.
// A refused transition or an fn error rolls back, so nothing is written.
func (s *Store) UpdateInstance(ctx context.Context, ref string, fn func(*core.Instance) error) (core.Instance, error) {
	var out core.Instance
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := getInstance(ctx, tx, ref, " FOR UPDATE")
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
		_, err = tx.Exec(ctx,
			`UPDATE instances SET pool_id = $1, state = $2, token_hash = $3, token_used = $4, updated_at = $5, data = $6
			 WHERE id = $7`,
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
		"DELETE FROM instances WHERE id IN (SELECT id FROM instances WHERE state = $1 AND updated_at < $2 LIMIT $3)",
		string(core.InstanceDeleted), codec.Nanos(before))
}

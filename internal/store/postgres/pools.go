package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

// CreatePool stores p, filling its ID (if empty) and timestamps. Its entity must exist.
func (s *Store) CreatePool(ctx context.Context, p *core.Pool) error {
	if err := codec.ValidatePool(p); err != nil {
		return err
	}
	rec := *p
	if rec.ID == "" {
		rec.ID = newID()
	}
	rec.CreatedAt = now()
	rec.UpdatedAt = rec.CreatedAt
	data, err := codec.ToJSON(rec)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := shareRow(ctx, tx, "entities", "entity", rec.EntityID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx,
			"INSERT INTO pools (id, name, entity_id, created_at, updated_at, data) VALUES ($1, $2, $3, $4, $5, $6)",
			rec.ID, rec.Name, rec.EntityID, codec.Nanos(rec.CreatedAt), codec.Nanos(rec.UpdatedAt), data)
		return mapWriteErr(fmt.Sprintf("pool %q", rec.Name), err)
	})
	if err != nil {
		return err
	}
	*p = rec
	return nil
}

// getByRef decodes the row of table whose id, else name, is ref; lock
// appends a row lock.
func getByRef[T any](ctx context.Context, q queryer, table, kind, ref, lock string) (T, error) {
	var v T
	for _, col := range []string{"id", "name"} {
		err := scanJSON(q.QueryRow(ctx, "SELECT data FROM "+table+" WHERE "+col+" = $1"+lock, ref), &v)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		return v, wrap(err)
	}
	return v, notFound(kind, ref)
}

// GetPool returns the pool with that id or name.
func (s *Store) GetPool(ctx context.Context, ref string) (core.Pool, error) {
	return getByRef[core.Pool](ctx, s.pool, "pools", "pool", ref, "")
}

// ListPools returns every pool ordered by name.
func (s *Store) ListPools(ctx context.Context) ([]core.Pool, error) {
	return listJSON[core.Pool](ctx, s.pool, "SELECT data FROM pools ORDER BY name")
}

// UpdatePool replaces the pool with p.ID. CreatedAt is kept; UpdatedAt is stamped.
func (s *Store) UpdatePool(ctx context.Context, p *core.Pool) error {
	if err := codec.ValidatePool(p); err != nil {
		return err
	}
	var out core.Pool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var old core.Pool
		err := scanJSON(tx.QueryRow(ctx, "SELECT data FROM pools WHERE id = $1 FOR UPDATE", p.ID), &old)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("pool", p.ID)
		}
		if err != nil {
			return err
		}
		rec := *p
		rec.CreatedAt = old.CreatedAt
		rec.UpdatedAt = now()
		if err := s.writePool(ctx, tx, rec); err != nil {
			return err
		}
		out = rec
		return nil
	})
	if err != nil {
		return err
	}
	*p = out
	return nil
}

func (s *Store) writePool(ctx context.Context, tx pgx.Tx, p core.Pool) error {
	if err := shareRow(ctx, tx, "entities", "entity", p.EntityID); err != nil {
		return err
	}
	data, err := codec.ToJSON(p)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx,
		"UPDATE pools SET name = $1, entity_id = $2, updated_at = $3, data = $4 WHERE id = $5",
		p.Name, p.EntityID, codec.Nanos(p.UpdatedAt), data, p.ID)
	return mapWriteErr(fmt.Sprintf("pool %q", p.Name), err)
}

// ModifyPool applies fn to the pool with its row locked, so concurrent
// changes of different fields (from any manager) both land.
func (s *Store) ModifyPool(ctx context.Context, ref string, fn func(*core.Pool) error) (core.Pool, error) {
	var out core.Pool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := getByRef[core.Pool](ctx, tx, "pools", "pool", ref, " FOR UPDATE")
		if err != nil {
			return err
		}
		cur, err := codec.ApplyPool(old, fn, now())
		if err != nil {
			return err
		}
		if err := s.writePool(ctx, tx, cur); err != nil {
			return err
		}
		out = cur
		return nil
	})
	return out, err
}

// DeletePool removes a pool none of whose instances is live. Deleted
// instances stay as history until PurgeInstances. The row lock orders it
// with CreateInstances, which share-locks the pool.
func (s *Store) DeletePool(ctx context.Context, ref string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		p, err := getByRef[core.Pool](ctx, tx, "pools", "pool", ref, " FOR UPDATE")
		if err != nil {
			return err
		}
		live, err := exists(ctx, tx, "instances", "pool_id = $1 AND state <> $2", p.ID, string(core.InstanceDeleted))
		if err != nil {
			return err
		}
		if live {
			return fmt.Errorf("pool %q still has live instances: %w", p.Name, store.ErrConflict)
		}
		_, err = tx.Exec(ctx, "DELETE FROM pools WHERE id = $1", p.ID)
		return mapWriteErr(fmt.Sprintf("delete pool %q", p.Name), err)
	})
}

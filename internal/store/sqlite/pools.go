package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

func requireEntity(ctx context.Context, tx *sql.Tx, id string) error {
	return requireRow(ctx, tx, "entities", "entity", id)
}

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
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := requireEntity(ctx, tx, rec.EntityID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			"INSERT INTO pools (id, name, entity_id, created_at, updated_at, data) VALUES (?, ?, ?, ?, ?, ?)",
			rec.ID, rec.Name, rec.EntityID, codec.Nanos(rec.CreatedAt), codec.Nanos(rec.UpdatedAt), data)
		return mapWriteErr(fmt.Sprintf("pool %q", rec.Name), err)
	})
	if err != nil {
		return err
	}
	*p = rec
	return nil
}

// getByRef decodes the row of table whose id, else name, is ref.
func getByRef[T any](ctx context.Context, q queryer, table, kind, ref string) (T, error) {
	var v T
	for _, col := range []string{"id", "name"} {
		err := scanJSON(q.QueryRowContext(ctx, "SELECT data FROM "+table+" WHERE "+col+" = ?", ref), &v)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		return v, err
	}
	return v, notFound(kind, ref)
}

// GetPool returns the pool with that id or name.
func (s *Store) GetPool(ctx context.Context, ref string) (core.Pool, error) {
	return getByRef[core.Pool](ctx, s.r, "pools", "pool", ref)
}

// ListPools returns every pool ordered by name.
func (s *Store) ListPools(ctx context.Context) ([]core.Pool, error) {
	return listJSON[core.Pool](ctx, s.r, "SELECT data FROM pools ORDER BY name")
}

// UpdatePool replaces the pool with p.ID. CreatedAt is kept; UpdatedAt is stamped.
func (s *Store) UpdatePool(ctx context.Context, p *core.Pool) error {
	if err := codec.ValidatePool(p); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var old core.Pool
		err := scanJSON(tx.QueryRowContext(ctx, "SELECT data FROM pools WHERE id = ?", p.ID), &old)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("pool", p.ID)
		}
		if err != nil {
			return err
		}
		if err := requireEntity(ctx, tx, p.EntityID); err != nil {
			return err
		}
		rec := *p
		rec.CreatedAt = old.CreatedAt
		rec.UpdatedAt = now()
		data, err := codec.ToJSON(rec)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			"UPDATE pools SET name = ?, entity_id = ?, updated_at = ?, data = ? WHERE id = ?",
			rec.Name, rec.EntityID, codec.Nanos(rec.UpdatedAt), data, rec.ID)
		if err != nil {
			return mapWriteErr(fmt.Sprintf("pool %q", rec.Name), err)
		}
		*p = rec
		return nil
	})
}

// ModifyPool applies fn to the pool inside one write transaction.
func (s *Store) ModifyPool(ctx context.Context, ref string, fn func(*core.Pool) error) (core.Pool, error) {
	var out core.Pool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getByRef[core.Pool](ctx, tx, "pools", "pool", ref)
		if err != nil {
			return err
		}
		cur, err := codec.ApplyPool(old, fn, now())
		if err != nil {
			return err
		}
		if err := requireEntity(ctx, tx, cur.EntityID); err != nil {
			return err
		}
		data, err := codec.ToJSON(cur)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			"UPDATE pools SET name = ?, entity_id = ?, updated_at = ?, data = ? WHERE id = ?",
			cur.Name, cur.EntityID, codec.Nanos(cur.UpdatedAt), data, cur.ID)
		if err != nil {
			return mapWriteErr(fmt.Sprintf("pool %q", cur.Name), err)
		}
		out = cur
		return nil
	})
	return out, err
}

// DeletePool removes a pool none of whose instances is live. Deleted
// instances stay as history until PurgeInstances.
func (s *Store) DeletePool(ctx context.Context, ref string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		p, err := getByRef[core.Pool](ctx, tx, "pools", "pool", ref)
		if err != nil {
			return err
		}
		live, err := exists(ctx, tx, "instances", "pool_id = ? AND state <> ?", p.ID, string(core.InstanceDeleted))
		if err != nil {
			return err
		}
		if live {
			return fmt.Errorf("pool %q still has live instances: %w", p.Name, store.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM pools WHERE id = ?", p.ID)
		return mapWriteErr(fmt.Sprintf("delete pool %q", p.Name), err)
	})
}

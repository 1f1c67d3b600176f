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

// scanJSON scans one data column into v.
func scanJSON(row pgx.Row, v any) error {
	var data string
	if err := row.Scan(&data); err != nil {
		return err
	}
	return codec.FromJSON(data, v)
}

// listJSON runs a query selecting one data column and decodes each row.
func listJSON[T any](ctx context.Context, q queryer, query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := scanJSON(rows, &v); err != nil {
			return nil, wrap(err)
		}
		out = append(out, v)
	}
	return out, wrap(rows.Err())
}

// shareRow checks that the row a new record points at exists (a forge, an
// entity, a pool) and holds a share lock on it until the transaction ends,
// so a concurrent delete of that row waits and then sees the new record.
func shareRow(ctx context.Context, tx pgx.Tx, table, kind, id string) error {
	ok, err := exists(ctx, tx, table, "id = $1 FOR SHARE", id)
	if err == nil && !ok {
		err = notFound(kind, id)
	}
	return err
}

// CreateEntity stores e, filling its ID (if empty) and timestamps. Its forge must exist.
func (s *Store) CreateEntity(ctx context.Context, e *core.Entity) error {
	if err := codec.ValidateEntity(e); err != nil {
		return err
	}
	rec := *e
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
		if err := shareRow(ctx, tx, "forges", "forge", rec.ForgeID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx,
			"INSERT INTO entities (id, forge_id, kind, name, created_at, updated_at, data) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			rec.ID, rec.ForgeID, string(rec.Kind), rec.Name, codec.Nanos(rec.CreatedAt), codec.Nanos(rec.UpdatedAt), data)
		return mapWriteErr(fmt.Sprintf("%s entity %q", rec.Kind, rec.Name), err)
	})
	if err != nil {
		return err
	}
	*e = rec
	return nil
}

// getEntity looks an entity up by id, then by name. Names are unique only per
// forge and kind, so a name shared by several entities is refused rather than
// resolved to an arbitrary one. lock appends a row lock.
func getEntity(ctx context.Context, q queryer, ref, lock string) (core.Entity, error) {
	var e core.Entity
	err := scanJSON(q.QueryRow(ctx, "SELECT data FROM entities WHERE id = $1"+lock, ref), &e)
	if err == nil || !errors.Is(err, pgx.ErrNoRows) {
		return e, wrap(err)
	}
	es, err := listJSON[core.Entity](ctx, q, "SELECT data FROM entities WHERE name = $1 ORDER BY created_at LIMIT 2"+lock, ref)
	if err != nil {
		return e, err
	}
	switch len(es) {
	case 0:
		return core.Entity{}, notFound("entity", ref)
	case 1:
		return es[0], nil
	}
	return core.Entity{}, fmt.Errorf("entity name %q is ambiguous (several forges or kinds use it); use its id", ref)
}

// GetEntity returns the entity with that id or (unambiguous) name.
func (s *Store) GetEntity(ctx context.Context, ref string) (core.Entity, error) {
	return getEntity(ctx, s.pool, ref, "")
}

// ListEntities returns every entity ordered by name.
func (s *Store) ListEntities(ctx context.Context) ([]core.Entity, error) {
	return listJSON[core.Entity](ctx, s.pool, "SELECT data FROM entities ORDER BY name, kind, forge_id")
}

// UpdateEntity replaces the entity with e.ID. CreatedAt is kept; UpdatedAt is stamped.
func (s *Store) UpdateEntity(ctx context.Context, e *core.Entity) error {
	if err := codec.ValidateEntity(e); err != nil {
		return err
	}
	var out core.Entity
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var old core.Entity
		err := scanJSON(tx.QueryRow(ctx, "SELECT data FROM entities WHERE id = $1 FOR UPDATE", e.ID), &old)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("entity", e.ID)
		}
		if err != nil {
			return err
		}
		if err := shareRow(ctx, tx, "forges", "forge", e.ForgeID); err != nil {
			return err
		}
		rec := *e
		rec.CreatedAt = old.CreatedAt
		rec.UpdatedAt = now()
		data, err := codec.ToJSON(rec)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx,
			"UPDATE entities SET forge_id = $1, kind = $2, name = $3, updated_at = $4, data = $5 WHERE id = $6",
			rec.ForgeID, string(rec.Kind), rec.Name, codec.Nanos(rec.UpdatedAt), data, rec.ID)
		if err != nil {
			return mapWriteErr(fmt.Sprintf("%s entity %q", rec.Kind, rec.Name), err)
		}
		out = rec
		return nil
	})
	if err != nil {
		return err
	}
	*e = out
	return nil
}

// DeleteEntity removes an entity no pool uses, together with its job records
// (they are only meaningful while the entity exists).
func (s *Store) DeleteEntity(ctx context.Context, ref string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		e, err := getEntity(ctx, tx, ref, " FOR UPDATE")
		if err != nil {
			return err
		}
		used, err := exists(ctx, tx, "pools", "entity_id = $1", e.ID)
		if err != nil {
			return err
		}
		if used {
			return fmt.Errorf("entity %q is used by pools: %w", e.Name, store.ErrConflict)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM jobs WHERE entity_id = $1", e.ID); err != nil {
			return fmt.Errorf("postgres store: delete entity jobs: %w", err)
		}
		_, err = tx.Exec(ctx, "DELETE FROM entities WHERE id = $1", e.ID)
		return mapWriteErr(fmt.Sprintf("delete entity %q", e.Name), err)
	})
}

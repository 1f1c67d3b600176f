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

// scanJSON scans one data column into v.
func scanJSON(row interface{ Scan(...any) error }, v any) error {
	var data string
	if err := row.Scan(&data); err != nil {
		return err
	}
	return codec.FromJSON(data, v)
}

// requireRow checks that the row a new record points at exists (a forge, an
// entity, a pool), for a clearer error than the foreign-key failure would give.
func requireRow(ctx context.Context, tx *sql.Tx, table, kind, id string) error {
	ok, err := exists(ctx, tx, table, "id = ?", id)
	if err == nil && !ok {
		err = notFound(kind, id)
	}
	return err
}

func requireForge(ctx context.Context, tx *sql.Tx, id string) error {
	return requireRow(ctx, tx, "forges", "forge", id)
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
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := requireForge(ctx, tx, rec.ForgeID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			"INSERT INTO entities (id, forge_id, kind, name, created_at, updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
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
// resolved to an arbitrary one.
func getEntity(ctx context.Context, q queryer, ref string) (core.Entity, error) {
	var e core.Entity
	err := scanJSON(q.QueryRowContext(ctx, "SELECT data FROM entities WHERE id = ?", ref), &e)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return e, err
	}
	rows, err := q.QueryContext(ctx, "SELECT data FROM entities WHERE name = ? ORDER BY created_at LIMIT 2", ref)
	if err != nil {
		return e, fmt.Errorf("sqlite store: get entity: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if err := scanJSON(rows, &e); err != nil {
			return core.Entity{}, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return core.Entity{}, err
	}
	switch n {
	case 0:
		return core.Entity{}, notFound("entity", ref)
	case 1:
		return e, nil
	}
	return core.Entity{}, fmt.Errorf("entity name %q is ambiguous (several forges or kinds use it); use its id", ref)
}

// GetEntity returns the entity with that id or (unambiguous) name.
func (s *Store) GetEntity(ctx context.Context, ref string) (core.Entity, error) {
	return getEntity(ctx, s.r, ref)
}

// ListEntities returns every entity ordered by name.
func (s *Store) ListEntities(ctx context.Context) ([]core.Entity, error) {
	return listJSON[core.Entity](ctx, s.r, "SELECT data FROM entities ORDER BY name, kind, forge_id")
}

// listJSON runs a query selecting one data column and decodes each row.
func listJSON[T any](ctx context.Context, q queryer, query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: %w", err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := scanJSON(rows, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// UpdateEntity replaces the entity with e.ID. CreatedAt is kept; UpdatedAt is stamped.
func (s *Store) UpdateEntity(ctx context.Context, e *core.Entity) error {
	if err := codec.ValidateEntity(e); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var old core.Entity
		err := scanJSON(tx.QueryRowContext(ctx, "SELECT data FROM entities WHERE id = ?", e.ID), &old)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("entity", e.ID)
		}
		if err != nil {
			return err
		}
		if err := requireForge(ctx, tx, e.ForgeID); err != nil {
			return err
		}
		rec := *e
		rec.CreatedAt = old.CreatedAt
		rec.UpdatedAt = now()
		data, err := codec.ToJSON(rec)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			"UPDATE entities SET forge_id = ?, kind = ?, name = ?, updated_at = ?, data = ? WHERE id = ?",
			rec.ForgeID, string(rec.Kind), rec.Name, codec.Nanos(rec.UpdatedAt), data, rec.ID)
		if err != nil {
			return mapWriteErr(fmt.Sprintf("%s entity %q", rec.Kind, rec.Name), err)
		}
		*e = rec
		return nil
	})
}

// DeleteEntity removes an entity no pool uses, together with its job records
// (they are only meaningful while the entity exists).
func (s *Store) DeleteEntity(ctx context.Context, ref string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		e, err := getEntity(ctx, tx, ref)
		if err != nil {
			return err
		}
		used, err := exists(ctx, tx, "pools", "entity_id = ?", e.ID)
		if err != nil {
			return err
		}
		if used {
			return fmt.Errorf("entity %q is used by pools: %w", e.Name, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM jobs WHERE entity_id = ?", e.ID); err != nil {
			return fmt.Errorf("sqlite store: delete entity jobs: %w", err)
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM entities WHERE id = ?", e.ID)
		return mapWriteErr(fmt.Sprintf("delete entity %q", e.Name), err)
	})
}

package postgres

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

const forgeCols = "data, secrets"

func (s *Store) scanForge(row pgx.Row) (core.Forge, error) {
	var data, sealed string
	if err := row.Scan(&data, &sealed); err != nil {
		return core.Forge{}, err
	}
	return codec.DecodeForge(s.box, data, sealed)
}

// lockForges serialises forge writes across managers: the shared-secret
// check compares decrypted secrets, which no unique index can do, so two
// writers must not both pass it. Readers are not blocked; forge writes are rare.
func lockForges(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "LOCK TABLE forges IN SHARE ROW EXCLUSIVE MODE")
	return err
}

// CreateForge stores f, filling its ID (if empty) and timestamps.
func (s *Store) CreateForge(ctx context.Context, f *core.Forge) error {
	if err := codec.ValidateForge(f); err != nil {
		return err
	}
	rec := *f
	if rec.ID == "" {
		rec.ID = newID()
	}
	rec.CreatedAt = now()
	rec.UpdatedAt = rec.CreatedAt
	data, sealed, err := codec.EncodeForge(s.box, &rec)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockForges(ctx, tx); err != nil {
			return err
		}
		if err := s.secretFree(ctx, tx, &rec); err != nil {
			return err
		}
		_, err := tx.Exec(ctx,
			"INSERT INTO forges (id, name, kind, secrets, created_at, updated_at, data) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			rec.ID, rec.Name, string(rec.Kind), sealed, codec.Nanos(rec.CreatedAt), codec.Nanos(rec.UpdatedAt), data)
		return mapWriteErr(fmt.Sprintf("forge %q", rec.Name), err)
	})
	if err != nil {
		return err
	}
	*f = rec
	return nil
}

// secretFree refuses f's webhook secret if another forge of its kind has it
// (store.SharedSecretError). It runs under lockForges in the write's transaction.
func (s *Store) secretFree(ctx context.Context, tx pgx.Tx, f *core.Forge) error {
	if f.WebhookSecret == "" {
		return nil
	}
	rows, err := tx.Query(ctx, "SELECT "+forgeCols+" FROM forges WHERE kind = $1 AND id <> $2", string(f.Kind), f.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		o, err := s.scanForge(rows)
		if err != nil {
			return err
		}
		if o.WebhookSecret != "" && subtle.ConstantTimeCompare([]byte(o.WebhookSecret), []byte(f.WebhookSecret)) == 1 {
			return &store.SharedSecretError{Forge: o.Name, Kind: f.Kind}
		}
	}
	return rows.Err()
}

// getForge looks a forge up by id, then by name; lock appends a row lock.
func (s *Store) getForge(ctx context.Context, q queryer, ref, lock string) (core.Forge, error) {
	for _, col := range []string{"id", "name"} {
		f, err := s.scanForge(q.QueryRow(ctx, "SELECT "+forgeCols+" FROM forges WHERE "+col+" = $1"+lock, ref))
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		return f, wrap(err)
	}
	return core.Forge{}, notFound("forge", ref)
}

// GetForge returns the forge with that id or name, secrets included.
func (s *Store) GetForge(ctx context.Context, ref string) (core.Forge, error) {
	return s.getForge(ctx, s.pool, ref, "")
}

// ListForges returns every forge ordered by name.
func (s *Store) ListForges(ctx context.Context) ([]core.Forge, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+forgeCols+" FROM forges ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("postgres store: list forges: %w", err)
	}
	defer rows.Close()
	out := []core.Forge{}
	for rows.Next() {
		f, err := s.scanForge(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, wrap(rows.Err())
}

// UpdateForge replaces the forge with f.ID. CreatedAt is kept; UpdatedAt is stamped.
func (s *Store) UpdateForge(ctx context.Context, f *core.Forge) error {
	if err := codec.ValidateForge(f); err != nil {
		return err
	}
	var out core.Forge
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockForges(ctx, tx); err != nil {
			return err
		}
		old, err := s.scanForge(tx.QueryRow(ctx, "SELECT "+forgeCols+" FROM forges WHERE id = $1", f.ID))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("forge", f.ID)
		}
		if err != nil {
			return err
		}
		rec := *f
		rec.CreatedAt = old.CreatedAt
		rec.UpdatedAt = now()
		// Only a new secret is checked: a store written before shared secrets
		// were refused may hold some, and re-saving such a forge unchanged
		// (as the config seed does at every start) must keep working.
		if rec.WebhookSecret != old.WebhookSecret || rec.Kind != old.Kind {
			if err := s.secretFree(ctx, tx, &rec); err != nil {
				return err
			}
		}
		data, sealed, err := codec.EncodeForge(s.box, &rec)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx,
			"UPDATE forges SET name = $1, kind = $2, secrets = $3, updated_at = $4, data = $5 WHERE id = $6",
			rec.Name, string(rec.Kind), sealed, codec.Nanos(rec.UpdatedAt), data, rec.ID)
		if err != nil {
			return mapWriteErr(fmt.Sprintf("forge %q", rec.Name), err)
		}
		out = rec
		return nil
	})
	if err != nil {
		return err
	}
	*f = out
	return nil
}

// DeleteForge removes a forge no entity uses. The row lock makes a
// concurrent CreateEntity on it wait, then fail its foreign key.
func (s *Store) DeleteForge(ctx context.Context, ref string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		f, err := s.getForge(ctx, tx, ref, " FOR UPDATE")
		if err != nil {
			return err
		}
		used, err := exists(ctx, tx, "entities", "forge_id = $1", f.ID)
		if err != nil {
			return err
		}
		if used {
			return fmt.Errorf("forge %q is used by entities: %w", f.Name, store.ErrConflict)
		}
		_, err = tx.Exec(ctx, "DELETE FROM forges WHERE id = $1", f.ID)
		return mapWriteErr(fmt.Sprintf("delete forge %q", f.Name), err)
	})
}

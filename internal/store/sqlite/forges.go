package sqlite

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

const forgeCols = "data, secrets"

func (s *Store) scanForge(row interface{ Scan(...any) error }) (core.Forge, error) {
	var data, sealed string
	if err := row.Scan(&data, &sealed); err != nil {
		return core.Forge{}, err
	}
	return codec.DecodeForge(s.box, data, sealed)
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
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.secretFree(ctx, tx, &rec); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			"INSERT INTO forges (id, name, kind, secrets, created_at, updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
			rec.ID, rec.Name, string(rec.Kind), sealed, codec.Nanos(rec.CreatedAt), codec.Nanos(rec.UpdatedAt), data)
		if err != nil {
			return mapWriteErr(fmt.Sprintf("forge %q", rec.Name), err)
		}
		*f = rec
		return nil
	})
}

// secretFree refuses f's webhook secret if another forge of its kind has it
// (store.SharedSecretError). It runs in the write's transaction: with the
// single writer, two requests cannot both pass the check and both write.
func (s *Store) secretFree(ctx context.Context, tx *sql.Tx, f *core.Forge) error {
	if f.WebhookSecret == "" {
		return nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+forgeCols+" FROM forges WHERE kind = ? AND id <> ?", string(f.Kind), f.ID)
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

func (s *Store) getForge(ctx context.Context, q queryer, ref string) (core.Forge, error) {
	for _, col := range []string{"id", "name"} {
		f, err := s.scanForge(q.QueryRowContext(ctx, "SELECT "+forgeCols+" FROM forges WHERE "+col+" = ?", ref))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		return f, err
	}
	return core.Forge{}, notFound("forge", ref)
}

// GetForge returns the forge with that id or name, secrets included.
func (s *Store) GetForge(ctx context.Context, ref string) (core.Forge, error) {
	return s.getForge(ctx, s.r, ref)
}

// ListForges returns every forge ordered by name.
func (s *Store) ListForges(ctx context.Context) ([]core.Forge, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+forgeCols+" FROM forges ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("sqlite store: list forges: %w", err)
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
	return out, rows.Err()
}

// UpdateForge replaces the forge with f.ID. CreatedAt is kept; UpdatedAt is stamped.
func (s *Store) UpdateForge(ctx context.Context, f *core.Forge) error {
	if err := codec.ValidateForge(f); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := s.getForgeByID(ctx, tx, f.ID)
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
		_, err = tx.ExecContext(ctx,
			"UPDATE forges SET name = ?, kind = ?, secrets = ?, updated_at = ?, data = ? WHERE id = ?",
			rec.Name, string(rec.Kind), sealed, codec.Nanos(rec.UpdatedAt), data, rec.ID)
		if err != nil {
			return mapWriteErr(fmt.Sprintf("forge %q", rec.Name), err)
		}
		*f = rec
		return nil
	})
}

func (s *Store) getForgeByID(ctx context.Context, q queryer, id string) (core.Forge, error) {
	f, err := s.scanForge(q.QueryRowContext(ctx, "SELECT "+forgeCols+" FROM forges WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return f, notFound("forge", id)
	}
	return f, err
}

// DeleteForge removes a forge no entity uses.
func (s *Store) DeleteForge(ctx context.Context, ref string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		f, err := s.getForge(ctx, tx, ref)
		if err != nil {
			return err
		}
		used, err := exists(ctx, tx, "entities", "forge_id = ?", f.ID)
		if err != nil {
			return err
		}
		if used {
			return fmt.Errorf("forge %q is used by entities: %w", f.Name, store.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM forges WHERE id = ?", f.ID)
		return mapWriteErr(fmt.Sprintf("delete forge %q", f.Name), err)
	})
}

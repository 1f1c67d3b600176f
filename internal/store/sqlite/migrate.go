package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/paddock-ci/paddock/internal/store/codec"
)

// Migrations are numbered files NNNN_name.sql, applied in order, each in its
// own transaction together with its schema_migrations row, so a crash leaves
// either all of a migration or none of it.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

func loadMigrations() ([]codec.Migration, error) {
	return codec.LoadMigrations(migrationFS, "migrations", "sqlite")
}

// migrate applies every migration not yet recorded and returns how many it applied.
func (s *Store) migrate(ctx context.Context) (int, error) {
	ms, err := loadMigrations()
	if err != nil {
		return 0, err
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("sqlite store: create schema_migrations: %w", err)
	}
	applied := 0
	for _, m := range ms {
		// The check is inside the (immediate) transaction so two processes
		// opening a fresh file at once cannot both apply the same migration.
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			done, err := exists(ctx, tx, "schema_migrations", "version = ?", m.Version)
			if err != nil || done {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("sqlite store: migration %s: %w", m.Name, err)
			}
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.Version, m.Name, codec.Nanos(now())); err != nil {
				return fmt.Errorf("sqlite store: record migration %s: %w", m.Name, err)
			}
			applied++
			return nil
		})
		if err != nil {
			return applied, err
		}
	}
	return applied, nil
}

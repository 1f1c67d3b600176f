package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/paddock-ci/paddock/internal/store/codec"
)

// Migrations are numbered files NNNN_name.sql, applied in order, each in its
// own transaction together with its schema_migrations row (PostgreSQL's DDL
// is transactional), so a crash leaves all of a migration or none of it.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

func loadMigrations() ([]codec.Migration, error) {
	return codec.LoadMigrations(migrationFS, "migrations", "postgres")
}

// SchemaVersion is the highest migration this build knows.
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// ErrSchemaTooNew: the database was migrated by a newer Paddock.
var ErrSchemaTooNew = errors.New("database schema is newer than this paddock")

// migrateLock is the advisory lock key managers hold while migrating, so
// replicas starting together on an empty database migrate it once.
const migrateLock = 0x7061646d // "padm"

// migrate refuses a database a newer Paddock has migrated, checks the
// encryption key against the one the database was set up with, applies
// pending migrations and, on a new database, records the key check. The
// refusals come before any write.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return wrap(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLock); err != nil {
		return wrap(err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLock) }()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("postgres store: create schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return wrap(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return wrap(err)
	}
	known := map[int]bool{}
	for _, m := range ms {
		known[m.Version] = true
	}
	newest := 0
	for _, v := range vs {
		applied[int(v)] = true
		if !known[int(v)] {
			newest = max(newest, int(v))
		}
	}
	if newest > 0 {
		return fmt.Errorf("%w: the database is at schema version %d, this paddock knows up to version %d; "+
			"run the newer paddock (or point store.dsn at another database); nothing was changed",
			ErrSchemaTooNew, newest, ms[len(ms)-1].Version)
	}
	if applied[1] {
		if err := s.checkKey(ctx, conn, false); err != nil {
			return err
		}
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("postgres store: migration %s: %w", m.Name, err)
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.Version, m.Name, codec.Nanos(now()))
			return err
		})
		if err != nil {
			return wrap(err)
		}
	}
	return s.checkKey(ctx, conn, true)
}

// checkKey verifies this manager's key against the check value the database
// holds. A database without one (set up before key checks existed) is judged
// by a forge's sealed secrets, if it has any; with record set it then gets a
// check value sealed now.
func (s *Store) checkKey(ctx context.Context, q queryer, record bool) error {
	var sealed string
	err := q.QueryRow(ctx, "SELECT value FROM meta WHERE key = $1", codec.KeyCheckMeta).Scan(&sealed)
	if err == nil {
		return codec.CheckKey(s.box, sealed)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return wrap(err)
	}
	var old string
	err = q.QueryRow(ctx, "SELECT secrets FROM forges LIMIT 1").Scan(&old)
	if err == nil {
		if _, err := s.box.Open(old); err != nil {
			return codec.CheckKey(s.box, "")
		}
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return wrap(err)
	}
	if !record {
		return nil
	}
	if sealed, err = codec.SealKeyCheck(s.box); err != nil {
		return err
	}
	// Managers migrate under one advisory lock, so no other one records a
	// check value meanwhile; DO NOTHING keeps even a stray writer's intact.
	_, err = q.Exec(ctx, "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
		codec.KeyCheckMeta, sealed)
	return wrap(err)
}

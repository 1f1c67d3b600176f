// Package teststore opens a real store for a test: the store tests run
// against is the one Paddock runs on, not a fake.
package teststore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store/postgres"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
)

// Open creates a fresh store in t's temporary directory, sealed with an
// all-zero key, and closes it when t ends, after any cleanup registered
// later (so goroutines using it are stopped first).
func Open(t testing.TB) *sqlite.Store {
	t.Helper()
	return OpenAt(t, filepath.Join(t.TempDir(), "p.db"))
}

// OpenAt opens the SQLite store at path as Open does; two calls on one path
// are two handles on one database, as two replicas have.
func OpenAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path, box(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// OpenPostgres opens the PostgreSQL store at dsn (pgtest.DB gives one), with
// the same key, closed when t ends.
func OpenPostgres(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), dsn, box(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func box(t testing.TB) *secretbox.Box {
	t.Helper()
	b, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Package teststore opens a real SQLite store for a test: the store tests
// run against is the one Paddock runs on, not a fake.
package teststore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
)

// Open creates a fresh store in t's temporary directory, sealed with an
// all-zero key, and closes it when t ends, after any cleanup registered
// later (so goroutines using it are stopped first).
func Open(t testing.TB) *sqlite.Store {
	t.Helper()
	box, err := secretbox.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"), box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

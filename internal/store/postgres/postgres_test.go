package postgres

import (
	"bytes"
	"testing"

	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/storetest"
	"github.com/paddock-ci/paddock/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func box(t *testing.T, b byte) *secretbox.Box {
	t.Helper()
	bx, err := secretbox.New(bytes.Repeat([]byte{b}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return bx
}

func openDSN(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn, box(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openDSN(t, pgtest.DB(t)) })
}

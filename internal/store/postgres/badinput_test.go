package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/codec"
	"github.com/paddock-ci/paddock/internal/testutil"
	"github.com/paddock-ci/paddock/internal/testutil/pgtest"
)

// Nothing listens on the port: Open fails fast, names where it tried and
// what to check, and never repeats the password.
func TestOpenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dsn := fmt.Sprintf("postgres://paddock:s3cretpw@127.0.0.1:%d/paddock?sslmode=disable&connect_timeout=5", port)
	_, err = Open(t.Context(), dsn, box(t, 7))
	if err == nil {
		t.Fatal("Open succeeded with nothing listening")
	}
	msg := err.Error()
	for _, want := range []string{"127.0.0.1:" + strconv.Itoa(port), `database "paddock"`, "check that PostgreSQL is running"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "s3cretpw") {
		t.Errorf("error repeats the password: %q", msg)
	}
	_, err = Open(t.Context(), "postgres://paddock:s3cretpw@127.0.0.1:%zz/x", box(t, 7))
	if err == nil || strings.Contains(err.Error(), "s3cretpw") {
		t.Fatalf("malformed DSN: %v", err)
	}
}

// The database goes away while the store is open: calls fail with an
// error, and once it is back the pool reconnects and calls succeed again.
func TestDatabaseRestart(t *testing.T) {
	srv := pgtest.Start(t)
	s := openDSN(t, srv.DB(t))
	defer s.Close()
	ctx := t.Context()
	if err := s.SetMeta(ctx, "k", "before"); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := s.SetMeta(ctx, "k", "during"); err == nil {
		t.Fatal("SetMeta succeeded with the database stopped")
	}
	if _, err := s.GetMeta(ctx, "k"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetMeta with the database stopped: %v, want a connection error", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "a write after the database came back", 30*time.Second, func() bool {
		return s.SetMeta(ctx, "k", "after") == nil
	})
	if v, err := s.GetMeta(ctx, "k"); err != nil || v != "after" {
		t.Fatalf("after restart: %q, %v", v, err)
	}
}

func execSQL(t *testing.T, dsn, sql string, args ...any) {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(t.Context(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

// A database migrated by a newer Paddock is refused, naming both versions,
// and left as it was.
func TestSchemaTooNew(t *testing.T) {
	dsn := pgtest.DB(t)
	openDSN(t, dsn).Close()
	newer := SchemaVersion() + 7
	execSQL(t, dsn, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', 0)", newer)
	_, err := Open(t.Context(), dsn, box(t, 7))
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("open: %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{fmt.Sprintf("version %d", newer), fmt.Sprintf("version %d", SchemaVersion())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

// Two managers with different encryption keys on one database: the second
// refuses to start and nothing the first wrote is changed.
func TestSecondManagerWrongKey(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DB(t)
	a := openDSN(t, dsn)
	defer a.Close()
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, WebhookSecret: "whsec",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "ghp_x"}}
	if err := a.CreateForge(ctx, &f); err != nil {
		t.Fatal(err)
	}
	check, err := a.GetMeta(ctx, codec.KeyCheckMeta)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, dsn, box(t, 8))
	if !errors.Is(err, codec.ErrWrongKey) {
		if b != nil {
			b.Close()
		}
		t.Fatalf("second manager with another key: %v, want codec.ErrWrongKey", err)
	}
	if got, err := a.GetMeta(ctx, codec.KeyCheckMeta); err != nil || got != check {
		t.Fatalf("key check value changed: %v", err)
	}
	if got, err := a.GetForge(ctx, "gh"); err != nil || got.Credential.Token != "ghp_x" {
		t.Fatalf("forge after the refused start: %+v, %v", got, err)
	}
	// A database from before key checks: its forge secrets decide.
	execSQL(t, dsn, "DELETE FROM meta WHERE key = $1", codec.KeyCheckMeta)
	if _, err := Open(ctx, dsn, box(t, 8)); !errors.Is(err, codec.ErrWrongKey) {
		t.Fatalf("older database with another key: %v, want codec.ErrWrongKey", err)
	}
}

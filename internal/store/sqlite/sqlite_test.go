package sqlite

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/codec"
	"github.com/paddock-ci/paddock/internal/store/storetest"
)

func testBox(t *testing.T) *secretbox.Box {
	t.Helper()
	b, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path, testBox(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "paddock.db"))
	})
}

func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openAt(t, ":memory:") })
}

func countMigrations(t *testing.T, s *Store) (n int, last int64) {
	t.Helper()
	err := s.r.QueryRowContext(t.Context(),
		"SELECT COUNT(*), COALESCE(MAX(applied_at), 0) FROM schema_migrations").Scan(&n, &last)
	if err != nil {
		t.Fatal(err)
	}
	return n, last
}

func TestReopenKeepsDataAndSkipsMigrations(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "paddock.db")
	s := openAt(t, path)
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	if err := s.CreateForge(ctx, &f); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(ctx, "controller_id", "c1"); err != nil {
		t.Fatal(err)
	}
	ms, _ := loadMigrations()
	n1, at1 := countMigrations(t, s)
	if n1 != len(ms) || n1 == 0 {
		t.Fatalf("%d migrations recorded, %d embedded", n1, len(ms))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path)
	defer s.Close()
	if applied, err := s.migrate(ctx); err != nil || applied != 0 {
		t.Fatalf("migrate on an up-to-date file applied %d (err %v)", applied, err)
	}
	n2, at2 := countMigrations(t, s)
	if n2 != n1 || at2 != at1 {
		t.Fatalf("reopen re-ran migrations: %d/%d rows, applied_at %d/%d", n1, n2, at1, at2)
	}
	got, err := s.GetForge(ctx, "gh")
	if err != nil || got.Credential.Token != "t" || got.ID != f.ID {
		t.Fatalf("forge after reopen: %+v %v", got, err)
	}
	if v, err := s.GetMeta(ctx, "controller_id"); err != nil || v != "c1" {
		t.Fatalf("meta after reopen: %q %v", v, err)
	}
}

func TestSecretsNotInFile(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "paddock.db")
	s := openAt(t, path)
	const (
		token  = "ghp_SUPERSECRETTOKEN1234567890"
		pem    = "-----BEGIN RSA PRIVATE KEY-----MIIEsecretkeymaterial"
		whsec  = "webhook-secret-value-0987654321"
		marker = "https://api.example.test/" // not secret: proves we read the right bytes
	)
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, APIURL: marker, WebhookSecret: whsec,
		Credential: core.Credential{Kind: core.CredentialApp, Token: token, AppID: 1, PrivateKeyPEM: pem}}
	if err := s.CreateForge(ctx, &f); err != nil {
		t.Fatal(err)
	}
	f.Credential.Token = token + "-v2"
	if err := s.UpdateForge(ctx, &f); err != nil {
		t.Fatal(err)
	}
	// Checkpoint so the pages are in the main file too, then read the main
	// file and the WAL/SHM side files before closing, and again after.
	if _, err := s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(FULL)"); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		var all []byte
		files, _ := filepath.Glob(path + "*")
		for _, fn := range files {
			b, err := os.ReadFile(fn)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		if !bytes.Contains(all, []byte(marker)) {
			t.Fatalf("%s: sanity check failed, plain forge data not found in %v", when, files)
		}
		for _, secret := range []string{token, pem, whsec} {
			if bytes.Contains(all, []byte(secret)) {
				t.Fatalf("%s: secret %q found in plaintext in the database files", when, secret)
			}
		}
	}
	check("open")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed")

	// And the secrets come back under the right key but not under another.
	s = openAt(t, path)
	got, err := s.GetForge(ctx, "gh")
	s.Close()
	if err != nil || got.Credential.Token != token+"-v2" || got.Credential.PrivateKeyPEM != pem || got.WebhookSecret != whsec {
		t.Fatalf("secrets round trip: %+v %v", got, err)
	}
	other, _ := secretbox.New(bytes.Repeat([]byte{8}, secretbox.KeySize))
	if s2, err := Open(ctx, path, other); !errors.Is(err, codec.ErrWrongKey) {
		if err == nil {
			s2.Close()
		}
		t.Fatalf("open with another key: %v, want codec.ErrWrongKey", err)
	}
}

// A file set up before key checks existed has forges but no check value:
// their secrets decide, and a wrong key is refused without recording one.
func TestKeyCheckOnOlderFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "paddock.db")
	s := openAt(t, path)
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	if err := s.CreateForge(ctx, &f); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, "DELETE FROM meta WHERE key = ?", codec.KeyCheckMeta); err != nil {
		t.Fatal(err)
	}
	s.Close()
	other, _ := secretbox.New(bytes.Repeat([]byte{8}, secretbox.KeySize))
	if _, err := Open(ctx, path, other); !errors.Is(err, codec.ErrWrongKey) {
		t.Fatalf("open an older file with another key: %v, want codec.ErrWrongKey", err)
	}
	s = openAt(t, path) // the right key still opens it, and records the check
	defer s.Close()
	if _, err := s.GetMeta(ctx, codec.KeyCheckMeta); err != nil {
		t.Fatalf("check value not recorded by the right key: %v", err)
	}
}

func TestWALOn(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "paddock.db"))
	defer s.Close()
	for _, pool := range []queryer{s.w, s.r} {
		var mode string
		var fk, busy int
		if err := pool.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRowContext(t.Context(), "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(mode, "wal") || fk != 1 || busy != busyTimeoutMS {
			t.Fatalf("journal_mode=%s foreign_keys=%d busy_timeout=%d", mode, fk, busy)
		}
	}
	// The reader pool must refuse writes: all writes go through the single writer.
	if _, err := s.r.ExecContext(t.Context(), "INSERT INTO meta (key, value) VALUES ('k', 'v')"); err == nil {
		t.Fatal("read pool accepted a write")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), nil); err == nil {
		t.Fatal("Open without a secretbox succeeded")
	}
	if _, err := Open(t.Context(), "", testBox(t)); err == nil {
		t.Fatal("Open with an empty path succeeded")
	}
	if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing-dir", "x.db"), testBox(t)); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

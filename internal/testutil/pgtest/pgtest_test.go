package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func query(t *testing.T, dsn, sql string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer c.Close(context.Background())
	var s string
	err = c.QueryRow(ctx, sql).Scan(&s)
	return s, err
}

// Each test gets its own empty database on the shared server.
func TestDBIsolated(t *testing.T) {
	a, b := DB(t), DB(t)
	if a == b {
		t.Fatalf("two DB calls gave the same DSN %s", a)
	}
	if _, err := query(t, a, "CREATE TABLE x AS SELECT 'a' AS v"); err != nil && err != pgx.ErrNoRows {
		t.Fatal(err)
	}
	if v, err := query(t, a, "SELECT v FROM x"); err != nil || v != "a" {
		t.Fatalf("create table in a: %q, %v", v, err)
	}
	if _, err := query(t, b, "SELECT v FROM x"); err == nil {
		t.Fatal("table created in database a is visible in database b")
	}
	if s1, s2 := Shared(t), Shared(t); s1 != s2 {
		t.Fatal("Shared started a second server")
	}
}

// A server of the test's own can be stopped and restarted on the same port,
// keeping its data.
func TestStopRestart(t *testing.T) {
	s := Start(t)
	dsn := s.DB(t)
	if _, err := query(t, dsn, "SELECT 'ok'"); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if s.Running() {
		t.Fatal("Running after Stop")
	}
	if _, err := query(t, dsn, "SELECT 'ok'"); err == nil {
		t.Fatal("query succeeded while the server was stopped")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if v, err := query(t, dsn, "SELECT 'ok'"); err != nil || v != "ok" {
		t.Fatalf("after restart: %q, %v", v, err)
	}
}

func TestBinDir(t *testing.T) {
	if _, err := BinDir(); err != nil {
		t.Skip(err)
	}
}

// The shared server trades durability for speed; Durable restores it.
func TestSettings(t *testing.T) {
	if v, err := query(t, DB(t), "SHOW fsync"); err != nil || v != "off" {
		t.Fatalf("shared server fsync = %q, %v; want off", v, err)
	}
	s := Start(t, Durable...)
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
		if v, err := query(t, s.DB(t), "SHOW "+name); err != nil || v != "on" {
			t.Fatalf("durable server %s = %q, %v; want on", name, v, err)
		}
	}
}

package config

import (
	"strings"
	"testing"
)

// driver: postgres takes its DSN from a secret reference; the value is
// resolved, hidden when printed, and never repeated in an error.
func TestPostgresStore(t *testing.T) {
	setBaseEnv(t)
	const dsn = "postgres://paddock:hunter2@db.example:5432/paddock?sslmode=verify-full"
	t.Setenv("T_DSN", dsn)
	c := mustParse(t, strings.Replace(minimal, "store:\n", "store:\n  driver: postgres\n  dsn: env:T_DSN\n", 1))
	if c.Store.Driver != "postgres" || string(c.Store.DSN) != dsn {
		t.Fatalf("store = %+v", c.Store)
	}
	if s := c.Store.DSN.String(); strings.Contains(s, "hunter2") {
		t.Fatalf("DSN prints as %q", s)
	}
	t.Setenv("T_DSN", "postgres://paddock:hunter2@db:notaport/x")
	_, err := Parse([]byte(strings.Replace(minimal, "store:\n", "store:\n  driver: postgres\n  dsn: env:T_DSN\n", 1)), "paddock.yaml", t.TempDir())
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "store.dsn") {
		t.Fatalf("bad DSN: %v", err)
	}
	if c := mustParse(t, minimal); c.Store.Driver != "sqlite" || c.Store.DSN != "" {
		t.Fatalf("default store = %+v", c.Store)
	}
}

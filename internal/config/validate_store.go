package config

import (
	"github.com/jackc/pgx/v5/pgconn"
)

// postgresDSN checks store.dsn for driver: postgres. The value is a secret
// (it usually holds a password), so no message repeats any of it.
func (v *validator) postgresDSN(dsn string) {
	if dsn == "" {
		v.p.at("store.dsn", "required with driver: postgres (e.g. env:PADDOCK_DATABASE_URL holding "+
			"postgres://paddock:PASSWORD@db.example:5432/paddock?sslmode=verify-full)")
		return
	}
	if _, err := pgconn.ParseConfig(dsn); err != nil {
		v.p.at("store.dsn", "not a valid PostgreSQL connection string; want a URL "+
			"postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE?sslmode=… or key=value pairs host=… user=… dbname=…")
	}
}

// Package postgres is Paddock's PostgreSQL store (pgx v5), for installations
// that outgrow one SQLite file or run several managers on one database. It
// implements store.Store and passes the conformance suite in store/storetest.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/paddock-ci/paddock/internal/leader/fence"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
)

// Store is a store.Store on a PostgreSQL database.
//
// Concurrency design: several managers may write the same rows, so nothing
// relies on a single writer. Read-modify-write methods lock the row they read
// (SELECT … FOR UPDATE) in READ COMMITTED transactions; a new row that points
// at another (an instance at its pool) takes a share lock on that row, so a
// concurrent delete of the parent waits or wins cleanly; unique constraints
// make duplicate names, jobs and deliveries impossible whatever the timing;
// forge writes serialise on the forges table because the shared-secret check
// compares decrypted values the database cannot index. Deadlocks and
// serialisation failures, which PostgreSQL resolves by aborting one side, are
// retried a few times.
type Store struct {
	pool *pgxpool.Pool
	box  *secretbox.Box
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by dsn (a postgres:// URL or key=value
// string; pgx pool options such as pool_max_conns are honoured), applies
// pending migrations and checks the encryption key. box seals forge secrets
// at rest and is required. Errors never repeat the DSN, which may hold a
// password.
func Open(ctx context.Context, dsn string, box *secretbox.Box) (*Store, error) {
	if box == nil {
		return nil, errors.New("postgres store: a secretbox is required to seal forge secrets")
	}
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("postgres store: empty DSN (set store.dsn)")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("postgres store: store.dsn is not a valid PostgreSQL connection string " +
			"(want postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE?sslmode=… or host=… user=… dbname=…)")
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// Webhooks, the controller and the API all write; pgx's default
		// (max(4, CPUs)) queues them on small machines.
		cfg.MaxConns = 16
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	s := &Store{pool: pool, box: box}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, unreachable(cfg.ConnConfig, err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// unreachable explains a failed first connection: where it tried and what to check.
func unreachable(c *pgx.ConnConfig, err error) error {
	where := net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
	if strings.HasPrefix(c.Host, "/") {
		where = "unix socket in " + c.Host
	}
	hint := "check that PostgreSQL is running there and accepts connections from this host " +
		"(listen_addresses, pg_hba.conf, firewall), and the host, port, user, password and database in store.dsn"
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		hint = "the server answered but refused: check the user, password and database in store.dsn and pg_hba.conf"
	}
	return fmt.Errorf("postgres store: cannot connect to PostgreSQL at %s (database %q, user %q): %v; %s",
		where, c.Database, c.User, err, hint)
}

// Pool is the store's connection pool, for features built on the same
// database (leader election, notifications) that must not open another.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the connection pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// queryer is what read helpers need; the pool and a transaction both satisfy
// it, so a read inside a write transaction sees that transaction's view.
type queryer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// txRetries bounds how often a transaction PostgreSQL aborted to break a
// deadlock or a serialisation conflict is run again.
const txRetries = 5

// inTx runs fn in one READ COMMITTED transaction, committing if fn returns
// nil. fn may run more than once (after a deadlock), so it must not have
// effects outside tx beyond setting its results. A context carrying a
// leader's term (the controller loop on several replicas) is checked against
// the lease row first, in the same transaction (fence.Check).
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	fenced := func(tx pgx.Tx) error {
		if err := fence.Check(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	}
	var err error
	for attempt := 0; attempt < txRetries; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, fenced)
		if !retryable(err) {
			break
		}
	}
	return wrap(err)
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// wrap names the backend on database errors and leaves the store's own
// errors (not found, conflict, transitions, fn's errors) as they are.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) || isConnErr(err) {
		return fmt.Errorf("postgres store: %w", err)
	}
	return err
}

func isConnErr(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne)
}

func now() time.Time { return time.Now().UTC() }

func newID() string { return uuid.NewString() }

// mapWriteErr turns constraint failures into the store's sentinel errors.
func mapWriteErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%s already exists: %w", what, store.ErrConflict)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%s: referenced object missing or still in use: %w", what, store.ErrConflict)
		}
	}
	return fmt.Errorf("postgres store: %s: %w", what, err)
}

func notFound(kind, ref string) error {
	return fmt.Errorf("%s %q: %w", kind, ref, store.ErrNotFound)
}

// exists reports whether a row matching where (with args) is in table.
func exists(ctx context.Context, q queryer, table, where string, args ...any) (bool, error) {
	var one int
	err := q.QueryRow(ctx, "SELECT 1 FROM "+table+" WHERE "+where+" LIMIT 1", args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres store: %w", err)
	}
	return true, nil
}

// args collects query arguments and hands out their $n placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// in is "col IN ($i, …)" for string-typed values.
func in[S ~string](a *args, col string, vs []S) string {
	ph := make([]string, len(vs))
	for i, v := range vs {
		ph[i] = a.add(string(v))
	}
	return col + " IN (" + strings.Join(ph, ", ") + ")"
}

// Package sqlite is Paddock's embedded store: one SQLite file, pure Go
// (modernc.org/sqlite, no cgo). It implements store.Store and passes the
// conformance suite in store/storetest.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/google/uuid"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

// Store is a store.Store on one SQLite file.
//
// Concurrency design: SQLite allows one writer at a time, and two connections
// that both try to upgrade a read transaction to a write one fail with
// "database is locked" no matter how long busy_timeout is. So every write goes
// through w, a pool capped at ONE connection: writers queue inside
// database/sql (honouring ctx) instead of racing inside SQLite. Transactions on
// w start with BEGIN IMMEDIATE (_txlock), which also keeps another process
// that opens the same file from interleaving a read-modify-write with ours.
// Plain reads go through r, a pool of several read-only connections; in WAL
// mode readers never block the writer nor each other, so a slow list does not
// hold up the control loop's writes. busy_timeout covers the rare moments
// (checkpoints, another process) where SQLite still asks a reader to wait.
type Store struct {
	w   *sql.DB
	r   *sql.DB
	box *secretbox.Box
	// memo spares re-decoding unchanged instance rows in listings (memo.go).
	memo decodeMemo
}

var _ store.Store = (*Store)(nil)

const busyTimeoutMS = 10000

// Open opens (creating if needed) the database at path and applies pending
// migrations. box seals forge secrets at rest and is required. A path of
// ":memory:" gives a private in-memory store (one connection, no WAL), handy
// for tests of other packages.
func Open(ctx context.Context, path string, box *secretbox.Box) (*Store, error) {
	if box == nil {
		return nil, errors.New("sqlite store: a secretbox is required to seal forge secrets")
	}
	if path == "" {
		return nil, errors.New("sqlite store: empty database path")
	}
	memory := path == ":memory:"
	if !memory {
		if err := restrictFiles(path); err != nil {
			return nil, err
		}
	}
	w, err := openPool(path, 1, false)
	if err != nil {
		return nil, err
	}
	s := &Store{w: w, r: w, box: box}
	if !memory {
		// WAL is a property of the file; set it once on the writer. It
		// persists, so the reader pool sees it too.
		var mode string
		if err := w.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlite store: open %s: %w", path, err)
		}
		if !strings.EqualFold(mode, "wal") {
			w.Close()
			return nil, fmt.Errorf("sqlite store: %s: could not enable WAL (journal_mode=%s)", path, mode)
		}
	}
	if _, err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := s.checkKey(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite store: %s: %w", path, err)
	}
	if !memory {
		r, err := openPool(path, max(4, runtime.GOMAXPROCS(0)), true)
		if err != nil {
			w.Close()
			return nil, err
		}
		s.r = r
	}
	return s, nil
}

func openPool(path string, conns int, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	// NORMAL is safe with WAL: a process crash (kill -9) loses nothing; only an
	// OS crash or power loss can drop the last commits, never corrupting the file.
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite store: open %s: %w", path, err)
	}
	return db, nil
}

// Close closes both connection pools.
func (s *Store) Close() error {
	var errR error
	if s.r != s.w {
		errR = s.r.Close()
	}
	return errors.Join(s.w.Close(), errR)
}

// queryer is what read helpers need; *sql.DB and *sql.Tx both satisfy it, so
// a read inside a write transaction sees that transaction's view.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// inTx runs fn in one write transaction, committing if fn returns nil.
// fn must use tx only: calling back into s.w would wait for the single write
// connection that fn itself holds.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite store: commit: %w", err)
	}
	return nil
}

func now() time.Time { return time.Now().UTC() }

func newID() string { return uuid.NewString() }

// nanos, toJSON and fromJSON keep the package's own names for the shared
// encodings in store/codec.
func nanos(t time.Time) int64           { return codec.Nanos(t) }
func toJSON(v any) (string, error)      { return codec.ToJSON(v) }
func fromJSON(data string, v any) error { return codec.FromJSON(data, v) }

// constraintCode returns the extended SQLite result code of a constraint
// failure, or 0 if err is not one.
func constraintCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return se.Code()
	}
	return 0
}

// mapWriteErr turns constraint failures into the store's sentinel errors.
func mapWriteErr(what string, err error) error {
	if err == nil {
		return nil
	}
	switch constraintCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%s already exists: %w", what, store.ErrConflict)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%s: referenced object missing or still in use: %w", what, store.ErrConflict)
	}
	return fmt.Errorf("sqlite store: %s: %w", what, err)
}

func notFound(kind, ref string) error {
	return fmt.Errorf("%s %q: %w", kind, ref, store.ErrNotFound)
}

// exists reports whether a row matching where (with args) is in table.
func exists(ctx context.Context, q queryer, table, where string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM "+table+" WHERE "+where+" LIMIT 1", args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite store: %w", err)
	}
	return true, nil
}

// affected returns how many rows a statement touched.
func affected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, fmt.Errorf("sqlite store: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

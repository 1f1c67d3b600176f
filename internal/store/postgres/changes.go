package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// ChangesSince returns the instances and jobs whose last writer had not
// committed in the snapshot the cursor records (migration 0005). The reads
// run in one REPEATABLE READ transaction, whose snapshot becomes the next
// cursor, so the rows, the counts and the cursor describe one moment, and a
// writer that commits after it — whenever it started — is reported next time.
func (s *Store) ChangesSince(ctx context.Context, cursor string) (store.Changes, error) {
	if cursor != "" && !validSnapshot(cursor) {
		return store.Changes{}, fmt.Errorf("changes cursor %q: %w", cursor, store.ErrBadCursor)
	}
	var ch store.Changes
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			// The first statement fixes the transaction's snapshot, which is
			// the one pg_current_snapshot reports.
			if err := tx.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&ch.Cursor); err != nil {
				return err
			}
			if cursor != "" {
				// Rows older than the cursor's xmin were all visible to it:
				// the index range skips them.
				const changed = "change_xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(change_xid, $1::pg_snapshot)"
				var err error
				if ch.Instances, err = queryInstancesOn(ctx, tx, []string{changed}, args{cursor}, ""); err != nil {
					return err
				}
				if ch.Jobs, err = listJSON[core.Job](ctx, tx,
					"SELECT data FROM jobs WHERE "+changed+" ORDER BY received_at, entity_id, id", cursor); err != nil {
					return err
				}
			}
			var a args
			q := "SELECT (SELECT count(*) FROM instances WHERE " + in(&a, "state", core.LiveInstanceStates()) + "), " +
				"(SELECT count(*) FROM jobs WHERE state = " + a.add(string(core.JobQueued)) + ")"
			return tx.QueryRow(ctx, q, a...).Scan(&ch.LiveInstances, &ch.QueuedJobs)
		})
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22") {
			// A well-formed cursor PostgreSQL still refuses (xmin > xmax).
			return store.Changes{}, fmt.Errorf("changes cursor %q: %w", cursor, store.ErrBadCursor)
		}
		return store.Changes{}, wrap(fmt.Errorf("changes: %w", err))
	}
	return ch, nil
}

// validSnapshot accepts pg_snapshot's text form, xmin:xmax:xip,xip,…, so a
// mangled cursor is refused before it reaches SQL.
func validSnapshot(s string) bool {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || len(s) > 1<<16 {
		return false
	}
	nums := append(parts[:2:2], strings.Split(parts[2], ",")...)
	if parts[2] == "" {
		nums = parts[:2]
	}
	for _, n := range nums {
		if _, err := strconv.ParseUint(n, 10, 64); err != nil {
			return false
		}
	}
	return true
}

package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// ChangesSince returns the instances and jobs stamped with a change sequence
// above cursor (migration 0009: triggers stamp every write). All reads run in
// one read transaction, so the rows, the counts and the new cursor describe
// one moment; a write committed later gets a higher sequence (one writer at a
// time), so the next call cannot skip it.
func (s *Store) ChangesSince(ctx context.Context, cursor string) (store.Changes, error) {
	after := int64(-1) // "": rows none, cursor now
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n < 0 {
			return store.Changes{}, fmt.Errorf("changes cursor %q: %w", cursor, store.ErrBadCursor)
		}
		after = n
	}
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return store.Changes{}, fmt.Errorf("sqlite store: changes: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // read only: nothing to keep
	var ch store.Changes
	var seq int64
	if err := tx.QueryRowContext(ctx, "SELECT n FROM change_seq WHERE id = 1").Scan(&seq); err != nil {
		return store.Changes{}, fmt.Errorf("sqlite store: changes: %w", err)
	}
	ch.Cursor = strconv.FormatInt(seq, 10)
	if after >= 0 && after < seq {
		// Ordered by seq, so the seq index serves: ordered by the list
		// order, SQLite walks that order's index through the whole table.
		// The few rows are put in list order here instead.
		if ch.Instances, err = s.queryInstancesOn(ctx, tx, []string{"seq > ?"}, []any{after}, " ORDER BY seq"); err != nil {
			return store.Changes{}, err
		}
		if ch.Jobs, err = listJSON[core.Job](ctx, tx, "SELECT data FROM jobs WHERE seq > ? ORDER BY seq", after); err != nil {
			return store.Changes{}, err
		}
		slices.SortFunc(ch.Instances, store.InstanceOrder)
		slices.SortFunc(ch.Jobs, store.JobOrder)
	}
	// Counted through the state indexes: live states are listed rather than
	// "not deleted", which would walk every deleted row kept as history.
	live := core.LiveInstanceStates()
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM instances WHERE "+inList("state", len(live)),
		appendStrings(nil, live)...).Scan(&ch.LiveInstances); err != nil {
		return store.Changes{}, fmt.Errorf("sqlite store: changes: %w", err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM jobs WHERE state = ?",
		string(core.JobQueued)).Scan(&ch.QueuedJobs); err != nil {
		return store.Changes{}, fmt.Errorf("sqlite store: changes: %w", err)
	}
	return ch, nil
}

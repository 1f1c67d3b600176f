package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

// Paged lists use keyset paging: the cursor holds the sort key of the last
// object handed out and the next page starts after it, walking an index
// (migration 0003). Unlike OFFSET, a page costs its own size however deep it
// is, and rows inserted or removed meanwhile never shift later pages.

func jobWhere(f store.JobFilter) ([]string, []any) {
	var (
		where []string
		args  []any
	)
	if f.EntityID != "" {
		where = append(where, "entity_id = ?")
		args = append(args, f.EntityID)
	}
	if f.ID != 0 {
		where = append(where, "id = ?")
		args = append(args, f.ID)
	}
	if len(f.States) > 0 {
		where, args = append(where, inList("state", len(f.States))), appendStrings(args, f.States)
	}
	return where, args
}

// ListJobsPage returns one page of jobs, newest received first.
func (s *Store) ListJobsPage(ctx context.Context, f store.JobFilter, p store.Page) ([]core.Job, string, error) {
	if err := codec.CheckPage(p); err != nil {
		return nil, "", err
	}
	where, args := jobWhere(f)
	if p.Cursor != "" {
		var c codec.JobCursor
		if err := codec.DecodeCursor(p.Cursor, "jobs", &c, func() string { return c.List }); err != nil {
			return nil, "", err
		}
		where = append(where, "(received_at, entity_id, id) < (?, ?, ?)")
		args = append(args, c.Received, c.EntityID, c.ID)
	}
	q := "SELECT data FROM jobs"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	// One more than asked for tells whether a next page exists.
	q += " ORDER BY received_at DESC, entity_id DESC, id DESC LIMIT ?"
	args = append(args, p.Limit+1)
	js, err := listJSON[core.Job](ctx, s.r, q, args...)
	if err != nil || len(js) <= p.Limit {
		return js, "", err
	}
	js = js[:p.Limit]
	last := js[len(js)-1]
	return js, codec.EncodeCursor(codec.JobCursor{List: "jobs", Received: codec.Nanos(last.ReceivedAt), EntityID: last.EntityID, ID: last.ID}), nil
}

// ListInstancesPage returns one page of instances, oldest first.
func (s *Store) ListInstancesPage(ctx context.Context, f store.InstanceFilter, p store.Page) ([]core.Instance, string, error) {
	if err := codec.CheckPage(p); err != nil {
		return nil, "", err
	}
	where, args := instanceWhere(f)
	if p.Cursor != "" {
		var c codec.InstanceCursor
		if err := codec.DecodeCursor(p.Cursor, "instances", &c, func() string { return c.List }); err != nil {
			return nil, "", err
		}
		where = append(where, "(created_at, name) > (?, ?)")
		args = append(args, c.Created, c.Name)
	}
	is, err := s.queryInstances(ctx, where, args, " LIMIT ?", p.Limit+1)
	if err != nil || len(is) <= p.Limit {
		return is, "", err
	}
	is = is[:p.Limit]
	last := is[len(is)-1]
	return is, codec.EncodeCursor(codec.InstanceCursor{List: "instances", Created: codec.Nanos(last.CreatedAt), Name: last.Name}), nil
}

// purgeBatch bounds one retention DELETE: SQLite has a single writer, and a
// batch this size commits in milliseconds, so webhook and controller writes
// queued behind it barely notice. database/sql hands the write connection to
// a waiting writer before the next batch takes it again.
const purgeBatch = 500

// purge runs del (a DELETE taking args and then a LIMIT for its rowid
// subquery) batch by batch until a batch removes fewer than purgeBatch rows.
func (s *Store) purge(ctx context.Context, del string, args ...any) (int, error) {
	total := 0
	for {
		n, err := affected(s.w.ExecContext(ctx, del, append(args, purgeBatch)...))
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}

// PurgeJobs deletes completed jobs last updated before t.
func (s *Store) PurgeJobs(ctx context.Context, before time.Time) (int, error) {
	return s.purge(ctx,
		"DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs WHERE state = ? AND updated_at < ? LIMIT ?)",
		string(core.JobCompleted), codec.Nanos(before))
}

// inList is "col IN (?, ?, …)" for n values.
func inList(col string, n int) string {
	return col + " IN (?" + strings.Repeat(", ?", n-1) + ")"
}

// appendStrings appends string-typed values (states) as query arguments.
func appendStrings[S ~string](args []any, vs []S) []any {
	for _, v := range vs {
		args = append(args, string(v))
	}
	return args
}

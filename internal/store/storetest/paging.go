package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// walkJobs pages through the jobs matching f and returns every page's ids.
func walkJobs(t *testing.T, s store.Store, f store.JobFilter, limit int) [][]int64 {
	t.Helper()
	var pages [][]int64
	cursor := ""
	for n := 0; ; n++ {
		if n > 100 {
			t.Fatal("paging does not end")
		}
		js, next, err := s.ListJobsPage(ctx(t), f, store.Page{Limit: limit, Cursor: cursor})
		must(t, err)
		if len(js) > limit {
			t.Fatalf("page of %d jobs with limit %d", len(js), limit)
		}
		ids := make([]int64, len(js))
		for i, j := range js {
			ids[i] = j.ID
		}
		pages = append(pages, ids)
		if next == "" {
			return pages
		}
		cursor = next
	}
}

func testJobPages(t *testing.T, s store.Store) {
	base := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	// Jobs 1..7; 3, 4 and 5 arrive at the same instant (ties broken by entity, then id).
	at := map[int64]int{1: 1, 2: 2, 3: 3, 4: 3, 5: 3, 6: 4, 7: 5}
	for id := int64(7); id >= 1; id-- {
		j := queuedJob("ent-a", id)
		if id == 4 {
			j.EntityID = "ent-b"
		}
		if id == 6 {
			j.State = core.JobCompleted
		}
		j.ReceivedAt = base.Add(time.Duration(at[id]) * time.Second)
		upsert(t, s, j)
	}
	cases := []struct {
		f     store.JobFilter
		limit int
		want  string
	}{
		{store.JobFilter{}, 3, "[[7 6 4] [5 3 2] [1]]"},
		{store.JobFilter{}, 7, "[[7 6 4 5 3 2 1]]"},
		{store.JobFilter{}, 100, "[[7 6 4 5 3 2 1]]"},
		{store.JobFilter{}, 1, "[[7] [6] [4] [5] [3] [2] [1]]"},
		{store.JobFilter{EntityID: "ent-a"}, 2, "[[7 6] [5 3] [2 1]]"},
		{store.JobFilter{States: []core.JobState{core.JobQueued}}, 4, "[[7 4 5 3] [2 1]]"},
		{store.JobFilter{ID: 4}, 2, "[[4]]"},
		{store.JobFilter{EntityID: "none"}, 2, "[[]]"},
	}
	for _, tc := range cases {
		if got := fmt.Sprint(walkJobs(t, s, tc.f, tc.limit)); got != tc.want {
			t.Fatalf("%+v limit %d: pages %s, want %s", tc.f, tc.limit, got, tc.want)
		}
	}

	// A job arriving mid-walk (newest, so it sorts before the cursor) does not
	// shift the rest of the walk: nothing is skipped or repeated.
	first, next, err := s.ListJobsPage(ctx(t), store.JobFilter{}, store.Page{Limit: 3})
	must(t, err)
	late := queuedJob("ent-a", 8)
	late.ReceivedAt = base.Add(time.Hour)
	upsert(t, s, late)
	rest, next2, err := s.ListJobsPage(ctx(t), store.JobFilter{}, store.Page{Limit: 10, Cursor: next})
	must(t, err)
	if got := fmt.Sprint(len(first), names(rest, func(j core.Job) string { return fmt.Sprint(j.ID) }), next2); got != "3 [5 3 2 1]" {
		t.Fatalf("walk with a late insert: %s", got)
	}

	for _, bad := range []string{"garbage!", "e30", encodeForeignCursor(t, s)} {
		_, _, err := s.ListJobsPage(ctx(t), store.JobFilter{}, store.Page{Limit: 2, Cursor: bad})
		wantErr(t, err, store.ErrBadCursor, "jobs page with cursor "+bad)
	}
	if _, _, err := s.ListJobsPage(ctx(t), store.JobFilter{}, store.Page{}); err == nil {
		t.Fatal("page limit 0 accepted")
	}
}

// encodeForeignCursor returns a valid cursor of the instance list.
func encodeForeignCursor(t *testing.T, s store.Store) string {
	t.Helper()
	p := newChain(t, s)
	newInstance(t, s, p.ID, "cursor-a")
	newInstance(t, s, p.ID, "cursor-b")
	_, next, err := s.ListInstancesPage(ctx(t), store.InstanceFilter{}, store.Page{Limit: 1})
	must(t, err)
	if next == "" {
		t.Fatal("no next cursor with two instances and limit 1")
	}
	return next
}

func testJobsByID(t *testing.T, s store.Store) {
	upsert(t, s, queuedJob("ent-a", 42))
	upsert(t, s, queuedJob("ent-b", 42))
	upsert(t, s, queuedJob("ent-a", 43))
	got, err := s.ListJobs(ctx(t), store.JobFilter{ID: 42})
	must(t, err)
	eqStrings(t, "jobs with id 42", names(got, func(j core.Job) string { return j.EntityID }), []string{"ent-a", "ent-b"})
	got, err = s.ListJobs(ctx(t), store.JobFilter{ID: 42, EntityID: "ent-b"})
	must(t, err)
	if len(got) != 1 || got[0].EntityID != "ent-b" {
		t.Fatalf("job 42 of ent-b: %+v", got)
	}
	got, err = s.ListJobs(ctx(t), store.JobFilter{ID: 44})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("missing id listed %d jobs", len(got))
	}
}

func testInstancePages(t *testing.T, s store.Store) {
	p := newChain(t, s)
	// One batch shares a creation instant, so the walk must break ties by name.
	var batch []*core.Instance
	for _, n := range []string{"m-c", "m-a", "m-b"} {
		batch = append(batch, &core.Instance{Name: n, PoolID: p.ID})
	}
	newInstance(t, s, p.ID, "first")
	must(t, s.CreateInstances(ctx(t), batch))
	time.Sleep(2 * time.Millisecond) // creation stamps must differ from the batch's
	gone := newInstance(t, s, p.ID, "gone")
	moveTo(t, s, gone.ID, toDeleted...)
	newInstance(t, s, p.ID, "last")

	walk := func(f store.InstanceFilter, limit int) string {
		var pages [][]string
		cursor := ""
		for n := 0; n < 100; n++ {
			is, next, err := s.ListInstancesPage(ctx(t), f, store.Page{Limit: limit, Cursor: cursor})
			must(t, err)
			pages = append(pages, names(is, func(i core.Instance) string { return i.Name }))
			if next == "" {
				return fmt.Sprint(pages)
			}
			cursor = next
		}
		t.Fatal("paging does not end")
		return ""
	}
	cases := []struct {
		f     store.InstanceFilter
		limit int
		want  string
	}{
		{store.InstanceFilter{}, 2, "[[first m-a] [m-b m-c] [gone last]]"},
		{store.InstanceFilter{}, 6, "[[first m-a m-b m-c gone last]]"},
		{store.InstanceFilter{Live: true}, 4, "[[first m-a m-b m-c] [last]]"},
		{store.InstanceFilter{States: []core.InstanceState{core.InstanceDeleted}}, 1, "[[gone]]"},
		{store.InstanceFilter{PoolID: "none"}, 1, "[[]]"},
	}
	for _, tc := range cases {
		if got := walk(tc.f, tc.limit); got != tc.want {
			t.Fatalf("%+v limit %d: pages %s, want %s", tc.f, tc.limit, got, tc.want)
		}
	}
	upsert(t, s, queuedJob("ent", 1))
	upsert(t, s, queuedJob("ent", 2))
	_, jobCursor, err := s.ListJobsPage(ctx(t), store.JobFilter{}, store.Page{Limit: 1})
	must(t, err)
	for _, bad := range []string{"%%%", jobCursor} {
		_, _, err := s.ListInstancesPage(ctx(t), store.InstanceFilter{}, store.Page{Limit: 2, Cursor: bad})
		wantErr(t, err, store.ErrBadCursor, "instances page with cursor "+bad)
	}
	if _, _, err := s.ListInstancesPage(ctx(t), store.InstanceFilter{}, store.Page{Limit: -1}); err == nil {
		t.Fatal("page limit -1 accepted")
	}
}

func testPurgeJobs(t *testing.T, s store.Store) {
	upsert(t, s, queuedJob("ent", 1))
	running := queuedJob("ent", 2)
	running.State = core.JobInProgress
	upsert(t, s, running)
	done := queuedJob("ent", 3)
	done.State = core.JobCompleted
	upsert(t, s, done)
	n, err := s.PurgeJobs(ctx(t), time.Now().Add(-time.Hour))
	must(t, err)
	if n != 0 {
		t.Fatalf("purged %d jobs updated after the cutoff", n)
	}
	time.Sleep(2 * time.Millisecond)
	n, err = s.PurgeJobs(ctx(t), time.Now())
	must(t, err)
	if n != 1 {
		t.Fatalf("purged %d, want 1 (only the completed job)", n)
	}
	_, err = s.GetJob(ctx(t), "ent", 3)
	wantErr(t, err, store.ErrNotFound, "purged job")
	getJob(t, s, "ent", 1)
	getJob(t, s, "ent", 2)
}

// testPurgeMany purges more rows than a backend would sensibly delete in one
// statement: however it batches, everything old goes and the count is exact.
func testPurgeMany(t *testing.T, s store.Store) {
	const many = 1234
	t0 := time.Now()
	for id := int64(1); id <= many; id++ {
		j := queuedJob("ent", id)
		j.State = core.JobCompleted
		upsert(t, s, j)
		fresh, err := s.RecordDelivery(ctx(t), "github:x", fmt.Sprint("d-", id), t0)
		must(t, err)
		if !fresh {
			t.Fatal("delivery not fresh")
		}
	}
	upsert(t, s, queuedJob("ent", many+1))
	time.Sleep(2 * time.Millisecond)
	n, err := s.PurgeJobs(ctx(t), time.Now())
	must(t, err)
	if n != many {
		t.Fatalf("purged %d jobs, want %d", n, many)
	}
	left, err := s.ListJobs(ctx(t), store.JobFilter{})
	must(t, err)
	if len(left) != 1 || left[0].ID != many+1 {
		t.Fatalf("left after purge: %d jobs", len(left))
	}
	n, err = s.PurgeDeliveries(ctx(t), t0.Add(time.Millisecond))
	must(t, err)
	if n != many {
		t.Fatalf("purged %d deliveries, want %d", n, many)
	}
}

package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

func queuedJob(entityID string, id int64) core.Job {
	return core.Job{ID: id, EntityID: entityID, RunID: 100 + id, RunAttempt: 1, Repository: "octo/repo",
		Name: "build", Workflow: "ci", Labels: []string{"self-hosted", "linux"}, State: core.JobQueued,
		QueuedAt: time.Now().Add(-time.Minute).UTC()}
}

func upsert(t *testing.T, s store.Store, j core.Job) (core.Job, bool) {
	t.Helper()
	changed, err := s.UpsertJob(ctx(t), &j)
	must(t, err)
	return j, changed
}

func getJob(t *testing.T, s store.Store, entityID string, id int64) core.Job {
	t.Helper()
	j, err := s.GetJob(ctx(t), entityID, id)
	must(t, err)
	return j
}

func testJobInsert(t *testing.T, s store.Store) {
	j, changed := upsert(t, s, queuedJob("ent", 1))
	if !changed || j.ReceivedAt.IsZero() || j.UpdatedAt.IsZero() {
		t.Fatalf("insert: changed=%v %+v", changed, j)
	}
	got := getJob(t, s, "ent", 1)
	if got.RunID != 101 || got.Name != "build" || len(got.Labels) != 2 || got.State != core.JobQueued {
		t.Fatalf("stored: %+v", got)
	}
	sameTime(t, "received_at", got.ReceivedAt, j.ReceivedAt)
	sameTime(t, "queued_at", got.QueuedAt, j.QueuedAt)

	given := queuedJob("ent", 2)
	given.ReceivedAt = time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	upsert(t, s, given)
	sameTime(t, "caller's received_at kept", getJob(t, s, "ent", 2).ReceivedAt, given.ReceivedAt)

	_, err := s.GetJob(ctx(t), "ent", 99)
	wantErr(t, err, store.ErrNotFound, "missing job")
	_, err = s.GetJob(ctx(t), "other", 1)
	wantErr(t, err, store.ErrNotFound, "job key includes the entity")
	bad := queuedJob("ent", 3)
	bad.State = "weird"
	if _, err := s.UpsertJob(ctx(t), &bad); err == nil {
		t.Fatal("job with unknown state accepted")
	}
}

func testJobForward(t *testing.T, s store.Store) {
	first, _ := upsert(t, s, queuedJob("ent", 1))
	_, err := s.UpdateJob(ctx(t), "ent", 1, func(j *core.Job) error {
		j.PoolID, j.Note = "pool-a", "waiting for capacity"
		return nil
	})
	must(t, err)

	started := time.Now().UTC()
	prog := core.Job{ID: 1, EntityID: "ent", State: core.JobInProgress, RunnerName: "pdk-1", StartedAt: started}
	j, changed := upsert(t, s, prog)
	if !changed || j.State != core.JobInProgress {
		t.Fatalf("forward move: changed=%v state=%s", changed, j.State)
	}
	got := getJob(t, s, "ent", 1)
	if got.RunnerName != "pdk-1" || got.PoolID != "pool-a" || got.Note != "waiting for capacity" ||
		got.Name != "build" || got.RunID != 101 || len(got.Labels) != 2 {
		t.Fatalf("merge lost fields: %+v", got)
	}
	sameTime(t, "started_at", got.StartedAt, started)
	sameTime(t, "received_at kept", got.ReceivedAt, first.ReceivedAt)
	if !got.UpdatedAt.After(first.UpdatedAt) && !got.UpdatedAt.Equal(first.UpdatedAt) {
		t.Fatal("updated_at went backwards")
	}

	done := time.Now().UTC()
	_, changed = upsert(t, s, core.Job{ID: 1, EntityID: "ent", State: core.JobCompleted, Conclusion: "success",
		CompletedAt: done, PoolID: "pool-b"})
	got = getJob(t, s, "ent", 1)
	if !changed || got.State != core.JobCompleted || got.Conclusion != "success" || got.RunnerName != "pdk-1" ||
		got.PoolID != "pool-b" {
		t.Fatalf("complete: changed=%v %+v", changed, got)
	}
	sameTime(t, "completed_at", got.CompletedAt, done)

	// A job first seen completed (e.g. by a poll) skips states.
	_, changed = upsert(t, s, core.Job{ID: 2, EntityID: "ent", State: core.JobCompleted, Conclusion: "failure"})
	if !changed || getJob(t, s, "ent", 2).State != core.JobCompleted {
		t.Fatal("job first seen completed not stored")
	}
}

func testJobBackward(t *testing.T, s store.Store) {
	upsert(t, s, queuedJob("ent", 1))
	upsert(t, s, core.Job{ID: 1, EntityID: "ent", State: core.JobCompleted, Conclusion: "success", RunnerName: "r1"})
	before := getJob(t, s, "ent", 1)
	for _, st := range []core.JobState{core.JobQueued, core.JobInProgress} {
		late := queuedJob("ent", 1)
		late.State, late.RunnerName, late.Note = st, "r2", "late"
		j, changed := upsert(t, s, late)
		if changed {
			t.Fatalf("late %s reported as a change", st)
		}
		if j.State != core.JobCompleted {
			t.Fatalf("late %s: returned job should be the stored one, got state %s", st, j.State)
		}
	}
	after := getJob(t, s, "ent", 1)
	if after.State != core.JobCompleted || after.RunnerName != "r1" || after.Note != "" ||
		!after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("backward move wrote something: %+v", after)
	}
}

func testJobSameState(t *testing.T, s store.Store) {
	first, _ := upsert(t, s, queuedJob("ent", 1))
	// The identical report again: nothing to do.
	if _, changed := upsert(t, s, queuedJob("ent", 1)); changed {
		t.Fatal("identical upsert reported changed")
	}
	// The same state with less information keeps what is known.
	if _, changed := upsert(t, s, core.Job{ID: 1, EntityID: "ent", State: core.JobQueued}); changed {
		t.Fatal("upsert with only zero fields reported changed")
	}
	got := getJob(t, s, "ent", 1)
	if got.Name != "build" || len(got.Labels) != 2 || !got.UpdatedAt.Equal(first.UpdatedAt) {
		t.Fatalf("zero fields overwrote the job: %+v", got)
	}
	// The same state with a new fact is merged and reported.
	_, changed := upsert(t, s, core.Job{ID: 1, EntityID: "ent", State: core.JobQueued, RunnerName: "r1"})
	if !changed || getJob(t, s, "ent", 1).RunnerName != "r1" {
		t.Fatal("same-state merge of a new field not applied")
	}
	// Labels fill in only when the stored job had none.
	upsert(t, s, core.Job{ID: 2, EntityID: "ent", State: core.JobQueued})
	_, changed = upsert(t, s, core.Job{ID: 2, EntityID: "ent", State: core.JobQueued, Labels: []string{"gpu"}})
	if !changed || len(getJob(t, s, "ent", 2).Labels) != 1 {
		t.Fatal("labels not filled in")
	}
	_, changed = upsert(t, s, core.Job{ID: 2, EntityID: "ent", State: core.JobQueued, Labels: []string{"cpu", "x"}})
	if changed || getJob(t, s, "ent", 2).Labels[0] != "gpu" {
		t.Fatal("known labels replaced")
	}
}

func testJobList(t *testing.T, s store.Store) {
	base := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	// Inserted out of order: listing must sort by ReceivedAt, not insertion.
	for _, n := range []int64{3, 1, 4, 2, 5} {
		j := queuedJob("ent-a", n)
		if n == 5 {
			j.EntityID = "ent-b"
		}
		j.ReceivedAt = base.Add(time.Duration(n) * time.Second)
		if n == 4 {
			j.State = core.JobCompleted
		}
		upsert(t, s, j)
	}
	ids := func(js []core.Job) []int64 {
		out := make([]int64, len(js))
		for i, j := range js {
			out[i] = j.ID
		}
		return out
	}
	cases := []struct {
		f    store.JobFilter
		want []int64
	}{
		{store.JobFilter{}, []int64{1, 2, 3, 4, 5}},
		{store.JobFilter{EntityID: "ent-a"}, []int64{1, 2, 3, 4}},
		{store.JobFilter{States: []core.JobState{core.JobQueued}}, []int64{1, 2, 3, 5}},
		{store.JobFilter{EntityID: "ent-a", States: []core.JobState{core.JobQueued, core.JobInProgress}}, []int64{1, 2, 3}},
		{store.JobFilter{Limit: 2}, []int64{5, 4}},
		{store.JobFilter{EntityID: "ent-a", Limit: 3}, []int64{4, 3, 2}},
		{store.JobFilter{EntityID: "none"}, []int64{}},
	}
	for _, tc := range cases {
		got, err := s.ListJobs(ctx(t), tc.f)
		must(t, err)
		if g, w := ids(got), tc.want; len(g) != len(w) || (len(g) > 0 && !equalInts(g, w)) {
			t.Fatalf("%+v: got %v want %v", tc.f, g, w)
		}
	}
}

func equalInts(a, b []int64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func testUpdateJob(t *testing.T, s store.Store) {
	first, _ := upsert(t, s, queuedJob("ent", 1))
	got, err := s.UpdateJob(ctx(t), "ent", 1, func(j *core.Job) error {
		j.PoolID, j.Note = "pool-a", "matched"
		return nil
	})
	must(t, err)
	if got.PoolID != "pool-a" || getJob(t, s, "ent", 1).Note != "matched" {
		t.Fatalf("update not stored: %+v", got)
	}
	sameTime(t, "received_at kept", got.ReceivedAt, first.ReceivedAt)

	boom := errors.New("boom")
	_, err = s.UpdateJob(ctx(t), "ent", 1, func(j *core.Job) error { j.Note = "nope"; return boom })
	if !errors.Is(err, boom) || getJob(t, s, "ent", 1).Note != "matched" {
		t.Fatalf("fn error: err=%v, note written anyway?", err)
	}
	upsert(t, s, core.Job{ID: 1, EntityID: "ent", State: core.JobCompleted})
	_, err = s.UpdateJob(ctx(t), "ent", 1, func(j *core.Job) error { j.State = core.JobQueued; return nil })
	var te *core.ErrTransition
	if !errors.As(err, &te) {
		t.Fatalf("backward UpdateJob: want *core.ErrTransition, got %v", err)
	}
	_, err = s.UpdateJob(ctx(t), "ent", 1, func(j *core.Job) error { j.ID = 7; return nil })
	if err == nil {
		t.Fatal("job key change accepted")
	}
	_, err = s.UpdateJob(ctx(t), "ent", 99, func(*core.Job) error { return nil })
	wantErr(t, err, store.ErrNotFound, "update missing job")
}

func testUpdateJobs(t *testing.T, s store.Store) {
	upsert(t, s, queuedJob("ent", 1))
	upsert(t, s, queuedJob("ent", 2))
	notes := map[int64]string{1: "one", 2: "two"}
	keys := []store.JobKey{{EntityID: "ent", ID: 1}, {EntityID: "ent", ID: 2}}
	must(t, s.UpdateJobs(ctx(t), keys, func(j *core.Job) error { j.Note = notes[j.ID]; return nil }))
	if getJob(t, s, "ent", 1).Note != "one" || getJob(t, s, "ent", 2).Note != "two" {
		t.Fatal("batch update not stored")
	}
	// All or nothing: a missing job in the batch leaves every job as it was.
	bad := append(keys, store.JobKey{EntityID: "ent", ID: 99})
	err := s.UpdateJobs(ctx(t), bad, func(j *core.Job) error { j.Note = "changed"; return nil })
	wantErr(t, err, store.ErrNotFound, "batch with a missing job")
	if getJob(t, s, "ent", 1).Note != "one" {
		t.Fatal("failed batch wrote a job")
	}
	must(t, s.UpdateJobs(ctx(t), nil, func(*core.Job) error { return errors.New("never called") }))
}

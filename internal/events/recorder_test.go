package events_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/events"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
)

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{3}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	if path == "" {
		path = filepath.Join(t.TempDir(), "p.db")
	}
	st, err := sqlite.Open(t.Context(), path, box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// chain makes a forge, entity and pool.
func chain(t *testing.T, s store.Store) (core.Entity, core.Pool) {
	t.Helper()
	ctx := t.Context()
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, APIURL: "https://api.github.com/", WebURL: "https://github.com/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "x"}}
	must(t, s.CreateForge(ctx, &f))
	e := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "o/r", Intake: core.IntakeWebhook}
	must(t, s.CreateEntity(ctx, &e))
	p := core.Pool{Name: "p1", EntityID: e.ID, Provider: "fake", Image: "i", Flavor: "f", OSType: "linux", Arch: "amd64",
		Labels: []string{"self-hosted", "linux"}, MaxRunners: 5, Enabled: true}
	must(t, s.CreatePool(ctx, &p))
	return e, p
}

// waitEvents polls the log until it holds n events after `after`.
func waitEvents(t *testing.T, s store.Store, after int64, n int) []core.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, err := s.ListEventsAfter(t.Context(), after, 1000)
		must(t, err)
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("log holds %d events after %d, want %d: %+v", len(evs), after, n, evs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func summary(evs []core.Event) []string {
	var out []string
	for _, e := range evs {
		s := string(e.Kind) + ":" + e.State
		if e.Reason != "" {
			s += "(" + e.Reason + ")"
		}
		out = append(out, s)
	}
	return out
}

// Every state change written through the recorder lands in the log, in
// order, with its reason; writes that change nothing emit nothing.
func TestRecorderNotesStateChanges(t *testing.T) {
	st := openStore(t, "")
	rec := events.NewRecorder(st, events.NewHub(), events.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { rec.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	ent, pool := chain(t, rec)
	now := time.Now().UTC()
	job := core.Job{ID: 42, EntityID: ent.ID, State: core.JobQueued, Labels: []string{"linux"}, QueuedAt: now}
	_, err := rec.UpsertJob(t.Context(), &job)
	must(t, err)
	same := job
	changed, err := rec.UpsertJob(t.Context(), &same) // a repeated delivery
	must(t, err)
	if changed {
		t.Fatal("repeated job reported changed")
	}
	must(t, rec.UpdateJobs(t.Context(), []store.JobKey{{EntityID: ent.ID, ID: 42}}, func(j *core.Job) error {
		j.Note = "no capacity"
		return nil
	}))
	_, err = rec.UpdateJob(t.Context(), ent.ID, 42, func(j *core.Job) error { j.PoolID, j.Note = pool.ID, ""; return nil })
	must(t, err)
	inst := core.Instance{Name: "i-1", PoolID: pool.ID, Labels: []string{"linux"}}
	must(t, rec.CreateInstance(t.Context(), &inst))
	for _, s := range []core.InstanceState{core.InstanceCreating, core.InstanceRunning} {
		_, err := rec.UpdateInstance(t.Context(), "i-1", func(i *core.Instance) error { i.State = s; return nil })
		must(t, err)
	}
	// A refused transition writes and emits nothing.
	if _, err := rec.UpdateInstance(t.Context(), "i-1", func(i *core.Instance) error {
		i.State = core.InstancePendingCreate
		return nil
	}); err == nil {
		t.Fatal("backward transition accepted")
	}
	run := job
	run.State, run.StartedAt, run.RunnerName = core.JobInProgress, now.Add(3*time.Second), "i-1"
	_, err = rec.UpsertJob(t.Context(), &run)
	must(t, err)
	_, err = rec.UpdateInstance(t.Context(), "i-1", func(i *core.Instance) error {
		i.Runner = core.RunnerActive
		return nil
	})
	must(t, err)
	fin := run
	fin.State, fin.Conclusion, fin.CompletedAt = core.JobCompleted, "success", now.Add(13*time.Second)
	_, err = rec.UpsertJob(t.Context(), &fin)
	must(t, err)
	_, err = rec.UpdateInstance(t.Context(), "i-1", func(i *core.Instance) error {
		i.State, i.DeleteReason = core.InstancePendingDelete, core.DeleteJobCompleted
		return nil
	})
	must(t, err)
	_, err = rec.ModifyPool(t.Context(), pool.Name, func(p *core.Pool) error { p.Enabled = false; return nil })
	must(t, err)
	_, err = rec.ModifyPool(t.Context(), pool.Name, func(p *core.Pool) error { p.MaxRunners = 9; return nil })
	must(t, err)
	rec.Emit(core.Event{Kind: core.EventPoolDegraded, PoolID: pool.ID, Pool: pool.Name, Reason: "quota"})

	want := []string{
		"job.queued:queued", "job.waiting:queued(no capacity)", "job.assigned:queued",
		"instance.state:pending_create", "instance.state:creating", "instance.state:running",
		"job.running:in_progress", "instance.runner:active", "job.done:success",
		"instance.state:pending_delete(job_completed)", "pool.drained:", "pool.degraded:(quota)",
	}
	evs := waitEvents(t, st, 0, len(want))
	if got := summary(evs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events:\n got %v\nwant %v", got, want)
	}
	if evs[6].Seconds != 3 || evs[8].Seconds != 10 || evs[6].Instance != "i-1" {
		t.Fatalf("durations: wait %v run %v instance %q", evs[6].Seconds, evs[8].Seconds, evs[6].Instance)
	}
	if evs[2].PoolID != pool.ID || evs[10].Pool != "p1" {
		t.Fatalf("pool fields: %+v %+v", evs[2], evs[10])
	}
}

// Events still queued when Run is told to stop are written before it returns.
func TestRecorderFlushesOnStop(t *testing.T) {
	st := openStore(t, "")
	rec := events.NewRecorder(st, events.NewHub(), events.Options{})
	for i := 0; i < 1500; i++ {
		rec.Emit(core.Event{Kind: core.EventJobQueued, JobID: int64(i)})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rec.Run(ctx)
	if got := len(waitEvents(t, st, 0, 1000)); got != 1000 {
		t.Fatalf("first page %d", got)
	}
	last, err := st.LastEventID(t.Context())
	must(t, err)
	evs, err := st.ListEventsAfter(t.Context(), 0, 1000)
	must(t, err)
	rest, err := st.ListEventsAfter(t.Context(), evs[len(evs)-1].ID, 1000)
	must(t, err)
	if len(evs)+len(rest) != 1500 || rest[len(rest)-1].ID != last {
		t.Fatalf("flushed %d events, want 1500", len(evs)+len(rest))
	}
}

// Old events are pruned by the writer, so the log stays bounded.
func TestRecorderPrunes(t *testing.T) {
	st := openStore(t, "")
	old := time.Now().Add(-100 * time.Hour)
	must(t, st.AppendEvents(t.Context(), []*core.Event{{Kind: core.EventJobQueued, At: old}}))
	rec := events.NewRecorder(st, events.NewHub(), events.Options{Retention: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { rec.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	rec.Emit(core.Event{Kind: core.EventJobDone})
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, err := st.ListEventsAfter(t.Context(), 0, 10)
		must(t, err)
		if len(evs) == 1 && evs[0].Kind == core.EventJobDone {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("old event not pruned: %+v", evs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

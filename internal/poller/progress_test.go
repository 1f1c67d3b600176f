package poller

import (
	"context"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/jobevent"
)

type eventRecorder struct{ got []forge.JobEvent }

func (r *eventRecorder) IngestQueued(context.Context, core.Entity, []core.Job, bool) (int, error) {
	return 0, nil
}

func (r *eventRecorder) HandleJobEvent(_ context.Context, forgeID string, ev forge.JobEvent, _ time.Time) (jobevent.Outcome, error) {
	r.got = append(r.got, ev)
	return jobevent.OutcomeStored, nil
}

func TestRunningJobsBecomeStartAndFinishEvents(t *testing.T) {
	rec := &eventRecorder{}
	p := New(Options{Sink: rec})
	ent := core.Entity{ID: "e1", Name: "o/r"}
	running := core.Job{ID: 7, RunnerName: "paddock-abc", State: core.JobInProgress}

	p.progress(context.Background(), "f1", ent, []core.Job{running})
	p.progress(context.Background(), "f1", ent, []core.Job{running}) // still running: nothing new
	p.progress(context.Background(), "f1", ent, nil)                 // gone: finished

	if len(rec.got) != 2 {
		t.Fatalf("events = %+v, want in_progress then completed", rec.got)
	}
	start, end := rec.got[0], rec.got[1]
	if start.Action != "in_progress" || start.Job.ID != 7 || start.Entity.Repository != "o/r" {
		t.Fatalf("start event = %+v", start)
	}
	// The finish names the runner, which is what sends its machine to deletion.
	if end.Action != "completed" || end.Job.RunnerName != "paddock-abc" || end.Job.State != core.JobCompleted ||
		end.Job.CompletedAt.IsZero() {
		t.Fatalf("finish event = %+v", end)
	}
}

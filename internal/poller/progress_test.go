package poller

import (
	"context"
	"slices"
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

// orderSink records the order in which a poll hands things over.
type orderSink struct{ got []string }

func (s *orderSink) IngestQueued(context.Context, core.Entity, []core.Job, bool) (int, error) {
	s.got = append(s.got, "queued")
	return 0, nil
}

func (s *orderSink) HandleJobEvent(_ context.Context, _ string, ev forge.JobEvent, _ time.Time) (jobevent.Outcome, error) {
	s.got = append(s.got, string(ev.Action))
	return jobevent.OutcomeStored, nil
}

// fixedListing answers every poll with one complete listing; the rest of
// forge.Client is not used by a poll.
type fixedListing struct {
	forge.Client
	lst forge.QueuedListing
}

type fixedForges struct{ c *fixedListing }

func (f fixedForges) Client(context.Context, string) (forge.Client, error) { return f.c, nil }
func (f *fixedListing) Capabilities() forge.Capabilities {
	return forge.Capabilities{Conditional: f}
}
func (f *fixedListing) ListQueuedJobsIf(context.Context, core.Entity, forge.QueuedQuery) (forge.QueuedListing, error) {
	return f.lst, nil
}

// A job that started since the last poll frees no capacity: its machine must
// be marked busy before the queued jobs are planned, or the scheduler sees the
// machine idle and plans a scale-down of it.
func TestPollHandsStartedJobsOverBeforeQueued(t *testing.T) {
	sink := &orderSink{}
	fl := &fixedListing{lst: forge.QueuedListing{Complete: true, Calls: 1,
		Jobs:       []core.Job{{ID: 2, RunID: 2, Repository: "o/r", Labels: []string{"linux"}, State: core.JobQueued}},
		InProgress: []core.Job{{ID: 1, RunID: 1, Repository: "o/r", Labels: []string{"linux"}, State: core.JobInProgress, RunnerName: "t-busy"}},
	}}
	p := New(Options{Sink: sink, Forges: fixedForges{fl}})
	if res, _ := p.poll(context.Background(), "f1", core.Entity{ID: "e1", Name: "o/r"}, 10, time.Now()); res.Outcome != OK {
		t.Fatalf("poll outcome %v", res.Outcome)
	}
	if want := []string{"in_progress", "queued"}; !slices.Equal(sink.got, want) {
		t.Fatalf("handed over in order %v, want %v", sink.got, want)
	}
}

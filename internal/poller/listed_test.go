package poller

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// listedSink records the Listed calls a poll makes.
type listedSink struct{ began []time.Time }

func (s *listedSink) IngestQueued(context.Context, core.Entity, []core.Job, bool) (int, error) {
	return 0, nil
}

func (s *listedSink) Listed(_ string, began time.Time) { s.began = append(s.began, began) }

type failingListing struct{ fixedListing }

func (f *failingListing) Capabilities() forge.Capabilities { return forge.Capabilities{Conditional: f} }
func (f *failingListing) ListQueuedJobsIf(context.Context, core.Entity, forge.QueuedQuery) (forge.QueuedListing, error) {
	return forge.QueuedListing{Calls: 1}, errors.New("502")
}

// Only a listing that shows every job still queued (complete, or a 304 on a
// complete one) tells the controller what runners that exited before it
// began did not leave queued; a listing cut short or failed says nothing, so
// the controller keeps holding until one does (or its hold lapses).
func TestPollReportsListedOnlyForFullListings(t *testing.T) {
	began := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	job := core.Job{ID: 2, RunID: 2, Repository: "o/r", Labels: []string{"linux"}, State: core.JobQueued}
	for _, tc := range []struct {
		name   string
		lister forge.Client
		want   bool
	}{
		{"complete", &fixedListing{lst: forge.QueuedListing{Complete: true, Calls: 1, Jobs: []core.Job{job}}}, true},
		{"not modified", &fixedListing{lst: forge.QueuedListing{Complete: true, NotModified: true, NotModifiedCalls: 2}}, true},
		{"cut short by the call budget", &fixedListing{lst: forge.QueuedListing{Complete: false, Calls: 3, Jobs: []core.Job{job}}}, false},
		{"failed", &failingListing{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &listedSink{}
			p := New(Options{Sink: sink, Forges: clientForges{tc.lister}})
			p.poll(context.Background(), "f1", core.Entity{ID: "e1", Name: "o/r"}, 10, began)
			got := len(sink.began) == 1 && sink.began[0].Equal(began)
			if got != tc.want || len(sink.began) > 1 {
				t.Fatalf("Listed calls %v, want one at %v: %v", sink.began, began, tc.want)
			}
		})
	}
}

type clientForges struct{ c forge.Client }

func (f clientForges) Client(context.Context, string) (forge.Client, error) { return f.c, nil }

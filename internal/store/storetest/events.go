package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

func testEvents(t *testing.T, s store.Store) {
	got, err := s.ListEventsAfter(ctx(t), 0, 10)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("fresh store has %d events", len(got))
	}
	if last, err := s.LastEventID(ctx(t)); err != nil || last != 0 {
		t.Fatalf("fresh store: last event id %d, %v; want 0", last, err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	evs := []*core.Event{
		{Kind: core.EventJobQueued, EntityID: "e1", JobID: 7, State: "queued", At: at},
		{Kind: core.EventInstanceState, Instance: "i-1", PoolID: "p1", From: "creating", State: "running"},
		{Kind: core.EventJobRunning, JobID: 7, Seconds: 1.5},
	}
	must(t, s.AppendEvents(ctx(t), evs))
	if evs[0].ID <= 0 || evs[1].ID <= evs[0].ID || evs[2].ID <= evs[1].ID {
		t.Fatalf("ids not filled in increasing order: %d %d %d", evs[0].ID, evs[1].ID, evs[2].ID)
	}
	if evs[1].At.IsZero() {
		t.Fatal("At not stamped")
	}
	must(t, s.AppendEvents(ctx(t), nil))
	if last, err := s.LastEventID(ctx(t)); err != nil || last != evs[2].ID {
		t.Fatalf("last event id %d, %v; want %d", last, err, evs[2].ID)
	}
	got, err = s.ListEventsAfter(ctx(t), 0, 10)
	must(t, err)
	if len(got) != 3 {
		t.Fatalf("listed %d events, want 3", len(got))
	}
	for n, e := range got {
		if e.ID != evs[n].ID || e.Kind != evs[n].Kind || e.JobID != evs[n].JobID || e.Reason != evs[n].Reason {
			t.Fatalf("event %d: got %+v want %+v", n, e, *evs[n])
		}
	}
	sameTime(t, "event time", got[0].At, at)
	if got[1].From != "creating" || got[1].State != "running" || got[1].Instance != "i-1" || got[2].Seconds != 1.5 {
		t.Fatalf("fields lost: %+v %+v", got[1], got[2])
	}
	// Resume after the first; the limit is honoured.
	got, err = s.ListEventsAfter(ctx(t), evs[0].ID, 1)
	must(t, err)
	if len(got) != 1 || got[0].ID != evs[1].ID {
		t.Fatalf("after %d limit 1: got %+v", evs[0].ID, got)
	}
	got, err = s.ListEventsAfter(ctx(t), evs[2].ID, 10)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("after the last: got %d events", len(got))
	}
	// A kind is required; a refused batch writes nothing.
	bad := []*core.Event{{Kind: core.EventJobDone}, {}}
	if err := s.AppendEvents(ctx(t), bad); err == nil {
		t.Fatal("event without kind accepted")
	}
	got, err = s.ListEventsAfter(ctx(t), evs[2].ID, 10)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("refused batch wrote %d events", len(got))
	}
}

// testEventsPrune: pruning removes old events only, and ids are never
// reused afterwards, even when every event was pruned.
func testEventsPrune(t *testing.T, s store.Store) {
	old := time.Now().Add(-3 * time.Hour)
	evs := []*core.Event{
		{Kind: core.EventJobQueued, At: old},
		{Kind: core.EventJobQueued, At: old.Add(time.Minute)},
		{Kind: core.EventJobDone},
	}
	must(t, s.AppendEvents(ctx(t), evs))
	n, err := s.PruneEvents(ctx(t), time.Now().Add(-time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("pruned %d, want 2", n)
	}
	got, err := s.ListEventsAfter(ctx(t), 0, 10)
	must(t, err)
	if len(got) != 1 || got[0].ID != evs[2].ID {
		t.Fatalf("after prune: %+v", got)
	}
	if last, err := s.LastEventID(ctx(t)); err != nil || last != evs[2].ID {
		t.Fatalf("last event id after prune %d, %v; want %d", last, err, evs[2].ID)
	}
	n, err = s.PruneEvents(ctx(t), time.Now().Add(time.Hour))
	must(t, err)
	if n != 1 {
		t.Fatalf("pruned %d, want 1", n)
	}
	next := []*core.Event{{Kind: core.EventPoolDegraded, PoolID: "p"}}
	must(t, s.AppendEvents(ctx(t), next))
	if next[0].ID <= evs[2].ID {
		t.Fatalf("id %d reused after prune (last was %d)", next[0].ID, evs[2].ID)
	}
}

// testEventsConcurrent: concurrent appenders while a reader follows the log
// with ListEventsAfter: the reader sees every event exactly once, in id
// order, with no gap closed later (the commit-order promise).
func testEventsConcurrent(t *testing.T, s store.Store) {
	const writers, batches, per = 4, 25, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				evs := make([]*core.Event, per)
				for i := range evs {
					evs[i] = &core.Event{Kind: core.EventInstanceState, State: "running"}
				}
				if err := s.AppendEvents(ctx(t), evs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[int64]bool{}
	var last int64
	follow := func() {
		for {
			evs, err := s.ListEventsAfter(ctx(t), last, 7)
			must(t, err)
			if len(evs) == 0 {
				return
			}
			for _, e := range evs {
				if e.ID <= last || seen[e.ID] {
					t.Fatalf("event %d out of order or repeated (last %d)", e.ID, last)
				}
				seen[e.ID], last = true, e.ID
			}
		}
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		follow()
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := s.ListEventsAfter(ctx(t), 0, 1000)
	must(t, err)
	if len(seen) != writers*batches*per || len(all) != len(seen) {
		t.Fatalf("follower saw %d events, store holds %d, want %d", len(seen), len(all), writers*batches*per)
	}
}

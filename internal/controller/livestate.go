package controller

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// liveState is the loop's copy of the live instances and queued jobs. Listing
// them from the store on every decision was most of a decision's cost at
// scale (10,000 instances: tens of ms of SQL, row decoding and garbage per
// pass, docs/performance.md), so each pass reads only the rows written since
// the last one (store.ChangesSince) and applies them.
//
// The store, not this copy, stays the truth: any replica writes instances and
// jobs (machine callbacks, webhooks), and ChangesSince reports their writes
// too. The copy is read afresh in full when it cannot be trusted: at the
// first pass of a leadership term (Run), after any error, when the store's
// counts disagree with it (a row removed outright, which ChangesSince cannot
// report), and at every periodic reconcile as a safety net.
type liveState struct {
	mu     sync.Mutex // held by the one pass that reads (step); tests read too
	valid  bool
	cursor string
	insts  rowSet[string, core.Instance]
	jobs   rowSet[jobKey, core.Job]

	led     bool         // the last pass led (the loop's only)
	stale   atomic.Bool  // read everything at the next pass
	reloads atomic.Int64 // full reads, for tests and debugging
}

func newLiveState() *liveState {
	return &liveState{
		insts: rowSet[string, core.Instance]{
			key:  func(i core.Instance) string { return i.ID },
			keep: func(i core.Instance) bool { return i.State.Live() },
			cmp:  store.InstanceOrder,
		},
		jobs: rowSet[jobKey, core.Job]{
			key:  func(j core.Job) jobKey { return jobKey{j.EntityID, j.ID} },
			keep: func(j core.Job) bool { return j.State == core.JobQueued },
			cmp:  store.JobOrder,
		},
	}
}

// invalidate makes the next read a full one.
func (l *liveState) invalidate() { l.stale.Store(true) }

// leading tells, before each read, whether this replica leads now. A pass
// while following, and the first one leading again, read everything: the
// copy is trusted only within one unbroken stretch of leading.
func (l *liveState) leading(now bool) {
	if !now || !l.led {
		l.invalidate()
	}
	l.led = now
}

// read brings the copy up to date and returns the live instances and queued
// jobs in the store's list order. The slices are the copy's own, not cloned
// (copying 10,000 instances a pass cost a third of a pass): the caller only
// reads them, until the next read; one that changes an element clones first
// (bindWaiting).
func (l *liveState) read(ctx context.Context, st store.Store) ([]core.Instance, []core.Job, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.update(ctx, st); err != nil {
		l.valid = false
		return nil, nil, err
	}
	return l.insts.list, l.jobs.list, nil
}

func (l *liveState) update(ctx context.Context, st store.Store) error {
	if l.stale.Swap(false) || !l.valid {
		return l.reload(ctx, st)
	}
	ch, err := st.ChangesSince(ctx, l.cursor)
	if err != nil {
		// Whatever went wrong (a cursor from before a restore, a lost
		// connection), a full read is the way back.
		return l.reload(ctx, st)
	}
	for _, i := range ch.Instances {
		l.insts.apply(i)
	}
	for _, j := range ch.Jobs {
		l.jobs.apply(j)
	}
	l.insts.settle()
	l.jobs.settle()
	if len(l.insts.list) != ch.LiveInstances || len(l.jobs.list) != ch.QueuedJobs {
		return l.reload(ctx, st)
	}
	l.cursor = ch.Cursor
	return nil
}

// reload reads everything. The cursor is taken first: a row written while
// the lists are read is then reported again by the next ChangesSince, and
// applying a row twice is harmless.
func (l *liveState) reload(ctx context.Context, st store.Store) error {
	l.valid = false
	l.reloads.Add(1)
	ch, err := st.ChangesSince(ctx, "")
	if err != nil {
		return fmt.Errorf("read change cursor: %w", err)
	}
	insts, err := st.ListInstances(ctx, store.InstanceFilter{Live: true})
	if err != nil {
		return err
	}
	jobs, err := st.ListJobs(ctx, store.JobFilter{States: []core.JobState{core.JobQueued}})
	if err != nil {
		return err
	}
	l.insts.reset(insts)
	l.jobs.reset(jobs)
	l.cursor, l.valid = ch.Cursor, true
	return nil
}

// rowSet keeps rows in a list order with an index by key, so a pass that
// changes a few rows of 10,000 costs about what it changes: updates replace
// in place, new rows (usually the newest) append, and only removals (one
// copy) or an out-of-order row (a sort) touch the whole list.
type rowSet[K comparable, T any] struct {
	key  func(T) K
	keep func(T) bool
	cmp  func(a, b T) int

	list     []T
	pos      map[K]int
	gone     map[int]bool // positions removed, until settle
	unsorted bool
}

func (s *rowSet[K, T]) reset(rows []T) {
	s.list, s.pos, s.gone, s.unsorted = rows, make(map[K]int, len(rows)), nil, false
	for n, r := range rows {
		s.pos[s.key(r)] = n
	}
}

func (s *rowSet[K, T]) apply(r T) {
	k := s.key(r)
	n, have := s.pos[k]
	switch {
	case have && s.keep(r):
		if s.cmp(s.list[n], r) != 0 {
			s.unsorted = true // its sort key changed
		}
		s.list[n] = r
	case have:
		delete(s.pos, k)
		if s.gone == nil {
			s.gone = map[int]bool{}
		}
		s.gone[n] = true
	case s.keep(r):
		if last := len(s.list) - 1; last >= 0 && s.cmp(s.list[last], r) > 0 {
			s.unsorted = true
		}
		s.pos[k] = len(s.list)
		s.list = append(s.list, r)
	}
}

// settle drops removed rows and restores the order after a pass's changes.
func (s *rowSet[K, T]) settle() {
	if len(s.gone) == 0 && !s.unsorted {
		return
	}
	if len(s.gone) > 0 {
		kept := s.list[:0]
		for n, r := range s.list {
			if !s.gone[n] {
				kept = append(kept, r)
			}
		}
		clear(s.list[len(kept):]) // let the dropped rows be collected
		s.list, s.gone = kept, nil
	}
	if s.unsorted {
		slices.SortStableFunc(s.list, s.cmp)
		s.unsorted = false
	}
	for n, r := range s.list {
		s.pos[s.key(r)] = n
	}
}

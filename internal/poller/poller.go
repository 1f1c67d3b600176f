package poller

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/store"
)

// Forges hands out an API client per forge id (the controller's Forges
// satisfies it).
type Forges interface {
	Client(ctx context.Context, forgeID string) (forge.Client, error)
}

// Sink receives what a poll found (controller.Controller.IngestQueued).
type Sink interface {
	IngestQueued(ctx context.Context, ent core.Entity, jobs []core.Job, complete bool) (int, error)
}

// ListedSink is a Sink that also wants to know when a listing of an entity
// that shows every job still queued was asked for: a complete listing, or a
// 304 saying the previous complete one still holds (the controller releases
// jobs it held back for runners that exited before then).
type ListedSink interface {
	Listed(entityID string, began time.Time)
}

// RunClaims is a Sink that knows which of Paddock's runners said they took a
// job of a run (the controller): see forge.QueuedQuery.RunClaim.
type RunClaims interface {
	ClaimedRun(ctx context.Context, entityID string, runID int64) (runner string, ok bool)
}

// Options configure a Poller.
type Options struct {
	Store   store.Store
	Forges  Forges
	Sink    Sink
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// BudgetPerHour: charged forge API calls per forge and hour (default 1200,
	// leaving most of GitHub's 5000 for runner registration and reconcile).
	BudgetPerHour int
	// MinInterval, MinGap, MaxBackoff, Burst: see Limits.
	MinInterval, MinGap, MaxBackoff, Burst time.Duration
	// Refresh: how often the list of poll-intake entities is re-read (default 30 s).
	Refresh time.Duration
	// CallTimeout bounds one poll (default 1 min).
	CallTimeout time.Duration
	Now         func() time.Time
}

// Poller runs one polling loop per forge that has poll-intake entities.
type Poller struct {
	o   Options
	log *slog.Logger

	mu       sync.Mutex
	entities map[string][]core.Entity // forge id → poll-intake entities
	loops    map[string]bool          // forge id → its loop runs
	wake     map[string]chan struct{}
	etags    map[string]map[string]string  // entity id → validators of its last complete listing
	running  map[string]map[int64]core.Job // entity id → jobs its last complete listing saw running
	urgent   map[string][]string           // forge id → entities PollNow asked for
	wg       sync.WaitGroup
}

// New fills defaults and returns a Poller.
func New(o Options) *Poller {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	if o.BudgetPerHour <= 0 {
		o.BudgetPerHour = 1200
	}
	if o.Refresh <= 0 {
		o.Refresh = 30 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Poller{o: o, log: o.Logger, entities: map[string][]core.Entity{}, loops: map[string]bool{},
		wake: map[string]chan struct{}{}, etags: map[string]map[string]string{}, running: map[string]map[int64]core.Job{},
		urgent: map[string][]string{}}
}

// Run polls until ctx ends. It re-reads the poll-intake entities every
// Refresh and starts a loop for each forge that has some.
func (p *Poller) Run(ctx context.Context) error {
	defer p.wg.Wait()
	t := time.NewTicker(p.o.Refresh)
	defer t.Stop()
	for {
		if err := p.refresh(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("poller: list entities", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (p *Poller) refresh(ctx context.Context) error {
	ents, err := p.o.Store.ListEntities(ctx)
	if err != nil {
		return err
	}
	forges, err := p.o.Store.ListForges(ctx)
	if err != nil {
		return err
	}
	kinds := make(map[string]core.ForgeKind, len(forges))
	for _, f := range forges {
		kinds[f.ID] = f.Kind
	}
	byForge := map[string][]core.Entity{}
	for _, e := range ents {
		if polled(e, kinds[e.ForgeID]) {
			byForge[e.ForgeID] = append(byForge[e.ForgeID], e)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for id := range p.entities {
		if _, ok := byForge[id]; !ok {
			byForge[id] = nil // the forge's loop sees it has nothing left and idles
		}
	}
	p.entities = byForge
	for id := range byForge {
		if !p.loops[id] && len(byForge[id]) > 0 {
			p.loops[id] = true
			p.wake[id] = make(chan struct{}, 1)
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.runForge(ctx, id) }()
		}
		select {
		case p.wake[id] <- struct{}{}:
		default:
		}
	}
	return nil
}

func (p *Poller) forgeEntities(forgeID string) (map[string]core.Entity, []string, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := map[string]core.Entity{}
	var ids []string
	for _, e := range p.entities[forgeID] {
		m[e.ID] = e
		ids = append(ids, e.ID)
	}
	sort.Strings(ids)
	return m, ids, p.wake[forgeID]
}

// runForge is one forge's loop: ask the schedule, wait, poll, record.
func (p *Poller) runForge(ctx context.Context, forgeID string) {
	sched := NewSchedule(Limits{Budget: p.o.BudgetPerHour, MinInterval: p.o.MinInterval,
		MinGap: p.o.MinGap, MaxBackoff: p.o.MaxBackoff, Burst: p.o.Burst})
	label := p.forgeLabel(ctx, forgeID)
	for ctx.Err() == nil {
		ents, ids, wake := p.forgeEntities(forgeID)
		for _, id := range p.takeUrgent(forgeID) {
			sched.Prioritise(id)
		}
		now := p.o.Now()
		id, at, maxCalls := sched.Next(now, ids)
		if id == "" || at.After(now) {
			wait := p.o.Refresh
			if id != "" {
				wait = at.Sub(now)
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-wake: // entities changed: plan again
			case <-t.C:
			}
			t.Stop()
			continue
		}
		res, found := p.poll(ctx, forgeID, ents[id], maxCalls, now)
		end := p.o.Now()
		sched.Record(id, now, end, res)
		p.observe(label, sched, end, res, found)
	}
}

// poll lists one entity's queued jobs and hands them over. It returns how
// many jobs were new.
// began is when the poll started, before its first request.
func (p *Poller) poll(ctx context.Context, forgeID string, ent core.Entity, maxCalls int, began time.Time) (Result, int) {
	client, err := p.o.Forges.Client(ctx, forgeID)
	if err != nil {
		p.log.Error("poller: forge client", "entity", ent.Name, "err", err)
		return Result{Outcome: Failed}, 0
	}
	cctx, cancel := context.WithTimeout(ctx, p.o.CallTimeout)
	defer cancel()
	caps := client.Capabilities()
	cl, conditional := caps.Conditional, caps.Conditional != nil
	var lst forge.QueuedListing
	if conditional {
		p.mu.Lock()
		etags := p.etags[ent.ID]
		p.mu.Unlock()
		q := forge.QueuedQuery{ETags: etags, MaxCalls: maxCalls}
		if rc, ok := p.o.Sink.(RunClaims); ok {
			q.RunClaim = func(run int64) (string, bool) { return rc.ClaimedRun(cctx, ent.ID, run) }
		}
		if caps.Labelled != nil {
			var pools []core.Pool
			if pools, err = p.o.Store.ListPools(ctx); err == nil {
				q.Labels = forge.PoolLabels(pools, ent.ID)
			}
		}
		if err == nil {
			lst, err = cl.ListQueuedJobsIf(cctx, ent, q)
		}
	} else {
		// Plain listers cannot say how many requests they made: counted as
		// one, so adapters should offer Capabilities.Conditional.
		if ll := caps.Labelled; ll != nil {
			var pools []core.Pool
			if pools, err = p.o.Store.ListPools(ctx); err == nil {
				lst.Jobs, err = ll.ListQueuedJobsFor(cctx, ent, forge.PoolLabels(pools, ent.ID))
			}
		} else {
			lst.Jobs, err = client.ListQueuedJobs(cctx, ent)
		}
		lst.Calls, lst.Complete = 1, err == nil
	}
	res := Result{Outcome: OK, Calls: lst.Calls, NotModifiedCalls: lst.NotModifiedCalls, Complete: lst.Complete}
	var rl *forge.RateLimitError
	switch {
	case errors.As(err, &rl):
		res.Outcome, res.RetryAfter = RateLimited, rl.RetryAfter
		p.log.Warn("poller: rate limited", "entity", ent.Name, "retry_after", rl.RetryAfter)
		return res, 0
	case err != nil:
		res.Outcome = Failed
		p.log.Warn("poller: list queued jobs", "entity", ent.Name, "err", err)
		return res, 0
	case lst.NotModified:
		res.Outcome = NotModified
		p.listed(ent, began)
		return res, 0
	}
	lst.Jobs, lst.InProgress = p.admit(ent, lst.Jobs), p.admit(ent, lst.InProgress)
	// Started and finished jobs go first: queued ones trigger planning, which
	// must already see a machine that took a job as busy, or it would plan a
	// scale-down of it.
	if conditional && lst.Complete {
		p.progress(ctx, forgeID, ent, lst.InProgress)
	}
	found, err := p.o.Sink.IngestQueued(ctx, ent, lst.Jobs, lst.Complete)
	if err != nil {
		res.Outcome = Failed
		p.log.Error("poller: ingest", "entity", ent.Name, "err", err)
		return res, found
	}
	// Validators are kept only once their listing was complete and fully
	// ingested: otherwise a 304 next time would hide jobs never handed over.
	if conditional && lst.Complete {
		p.mu.Lock()
		p.etags[ent.ID] = lst.ETags
		p.mu.Unlock()
	}
	if lst.Complete {
		p.listed(ent, began)
	}
	return res, found
}

func (p *Poller) listed(ent core.Entity, began time.Time) {
	if l, ok := p.o.Sink.(ListedSink); ok {
		l.Listed(ent.ID, began)
	}
}

func (p *Poller) observe(label string, s *Schedule, now time.Time, r Result, found int) {
	m := p.o.Metrics
	m.Polls.WithLabelValues(label, string(r.Outcome)).Inc()
	m.PollCalls.WithLabelValues(label, "charged").Add(float64(r.Calls))
	m.PollCalls.WithLabelValues(label, "not_modified").Add(float64(r.NotModifiedCalls))
	m.PollJobsFound.WithLabelValues(label).Add(float64(found))
	m.PollBudgetUsed.WithLabelValues(label).Set(float64(s.Used(now)))
	m.PollBudgetRemaining.WithLabelValues(label).Set(float64(s.Remaining(now)))
}

// forgeLabel names a forge in metrics as the forge adapters do (by name).
func (p *Poller) forgeLabel(ctx context.Context, forgeID string) string {
	if f, err := p.o.Store.GetForge(ctx, forgeID); err == nil && f.Name != "" {
		return f.Name
	}
	return forgeID
}

// admit drops listed jobs whose values Paddock must not take in (the rule
// webhooks get: forge.CheckJob), each with a warning; the rest go on.
func (p *Poller) admit(ent core.Entity, jobs []core.Job) []core.Job {
	return slices.DeleteFunc(jobs, func(j core.Job) bool {
		err := forge.CheckJob(j)
		if err != nil {
			p.log.Warn("poller: job refused", "entity", ent.Name, "err", err)
		}
		return err != nil
	})
}

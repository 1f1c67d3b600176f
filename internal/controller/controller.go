// Package controller is Paddock's one event loop. Events (a job queued, a
// runner reporting in, a machine created) wake it; it reads a snapshot from the
// store, asks the pure scheduler what to do, writes that intent to the store,
// and only then calls providers and forges. Every call is keyed by instance
// name, so after a crash the same intent can be carried out again safely.
package controller

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/scheduler"
	"github.com/paddock-ci/paddock/internal/store"
)

// Forges hands out an API client for a forge (by forge id).
type Forges interface {
	Client(ctx context.Context, forgeID string) (forge.Client, error)
}

// PoolClients hands out the forge client a pool's machines use, given the
// forge's own client (the scale-set manager implements it).
type PoolClients interface {
	PoolClient(ctx context.Context, pool core.Pool, base forge.Client) (forge.Client, error)
}

// Options configure a Controller.
type Options struct {
	Store     store.Store
	Providers map[string]provider.Provider
	Forges    Forges
	// PoolClients, if set, may replace the forge client used for a pool's
	// machines (scale-set pools mint and remove runners through their scale
	// set rather than the REST API).
	PoolClients PoolClients
	Metrics     *metrics.Metrics
	Logger      *slog.Logger
	// ControllerID tags this manager's machines at providers.
	ControllerID string
	// TokenKey derives per-instance tokens (never stored).
	TokenKey []byte
	// MetadataURL and CallbackURL are the base URLs machines call back to.
	MetadataURL string
	CallbackURL string

	IdleGrace         time.Duration
	ReconcileInterval time.Duration
	// PollInterval: how often the safety-net poll lists queued jobs of webhook entities.
	PollInterval      time.Duration
	MaxCreateAttempts int
	// Capacity bounds each provider (by name) across its pools (config
	// providers[].capacity); providers missing are bounded by max_runners.
	Capacity map[string]scheduler.Capacity
	// RunnerOnlineGrace: a runner reported up must show online at the forge
	// within this long (and within two reconcile listings) or its machine is
	// replaced. Default 3 min: a runner on a slow VM takes a while to connect.
	RunnerOnlineGrace time.Duration
	// Retention: how long completed jobs, deleted instances and delivery ids are kept.
	Retention Retention
	// MaxParallel bounds concurrent provider calls per provider;
	// ProviderMaxParallel overrides it for the providers it names (the
	// config's providers[].max_parallel).
	MaxParallel         int
	ProviderMaxParallel map[string]int
	// CallTimeout bounds one provider or forge call.
	CallTimeout time.Duration
	Now         func() time.Time
	// OnDispatch, if set, receives every job-event → provider-Create latency
	// (benchmarks and the demo report exact percentiles from it).
	OnDispatch func(time.Duration)
	// OnNotify, if set, is called by every Notify: a replica that does not
	// lead passes the wake-up on to the one that does (internal/leader).
	OnNotify func()
	// Leading, if set, says whether this replica runs the loop now; a
	// follower does not keep job arrival times (the leader reads them from
	// the stored jobs instead). Nil means always.
	Leading func() bool
	// Emit, if set, receives events the store writes cannot show (a pool's
	// creates starting to fail, or recovering) for the event log.
	Emit func(core.Event)
	// BindWait bounds one long-poll of an unbound warm machine for its
	// runner config (default DefaultBindWait).
	BindWait time.Duration
	// Prices, if set, prices each removed machine into a usage record
	// (usage.go, docs/sharing.md "Cost accounting").
	Prices *core.PriceTable
}

// Controller runs the loop. Create it with New, start it with Run.
type Controller struct {
	o     Options
	log   *slog.Logger
	kick  chan struct{}
	sem   map[string]chan struct{}
	tools *toolCache

	mu       sync.Mutex
	inflight map[string]bool                 // instance name → a provider/forge op runs for it
	arrivals map[jobKey]time.Time            // queued job → when its event arrived, until a machine is planned for it
	dispatch map[string]time.Time            // instance name → job event arrival it serves
	lastPoll map[string]time.Time            // entity id → last queued-job poll
	backoff  map[string]time.Time            // forge id → rate limited until
	health   map[string]scheduler.PoolHealth // pool id → failing creates (health.go)
	failedAs map[string]string               // pool id → providerSettings of its failing pool (health.go)
	// bootFailing: pools whose machines cannot get a runner config (health.go)
	bootFailing map[string]bool

	// listed (under mu): entity id → job ids its latest poll listing showed (ingest.go).
	listed map[string]map[int64]bool
	// spent (under mu): runners of polled entities that exited before a
	// listing showed them running a job (held.go).
	spent []spentRunner
	// polled (under mu): entities a poller has reported a listing of
	// (Listed), with when the latest such listing began.
	polled map[string]time.Time
	// runClaims (under mu): the live machines that said their runner took a
	// job of a run, as of the last decision (claims.go), for ClaimedRun.
	runClaims map[runKey][]string
	// claimHolds (under mu): per entity, the claims that held a job back in
	// the last decision; a listing of that entity may release them (Listed).
	claimHolds map[string]int
	// spentMu makes a machine's exit and its hold one step for a decision:
	// a snapshot that no longer counts the machine live also sees its hold
	// (held.go).
	spentMu sync.Mutex
	// offline (under mu): instance name → consecutive runner listings that
	// showed its runner offline (runnercheck.go).
	offline map[string]int

	binds binders    // unbound warm machines waiting for a job (latebind.go)
	live  *liveState // live instances and queued jobs, kept by deltas (livestate.go)

	wg          sync.WaitGroup
	reconciling atomic.Bool
	budget      budgets // budget.go
}

// New fills defaults and returns a Controller.
func New(o Options) *Controller {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	if o.IdleGrace == 0 {
		o.IdleGrace = 30 * time.Second
	}
	if o.ReconcileInterval == 0 {
		o.ReconcileInterval = time.Minute
	}
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Minute
	}
	if o.MaxCreateAttempts == 0 {
		o.MaxCreateAttempts = 5
	}
	if o.RunnerOnlineGrace == 0 {
		o.RunnerOnlineGrace = 3 * time.Minute
	}
	if o.MaxParallel == 0 {
		o.MaxParallel = 8
	}
	if o.BindWait <= 0 {
		o.BindWait = DefaultBindWait
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = 5 * time.Minute
	}
	c := &Controller{
		o: o, log: o.Logger, kick: make(chan struct{}, 1),
		sem:      map[string]chan struct{}{},
		tools:    newToolCache(),
		live:     newLiveState(),
		inflight: map[string]bool{}, arrivals: map[jobKey]time.Time{},
		dispatch: map[string]time.Time{}, lastPoll: map[string]time.Time{}, backoff: map[string]time.Time{},
		health: map[string]scheduler.PoolHealth{}, failedAs: map[string]string{}, bootFailing: map[string]bool{},
	}
	for name := range o.Providers {
		n := o.MaxParallel
		if v := o.ProviderMaxParallel[name]; v > 0 {
			n = v
		}
		c.sem[name] = make(chan struct{}, n)
	}
	return c
}

// Notify wakes the loop. Many notifications before the loop runs coalesce
// into one decision, which is what keeps a 200-job burst cheap.
func (c *Controller) Notify() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
	if c.o.OnNotify != nil {
		c.o.OnNotify()
	}
}

// Run reconciles once, then decides on every event until ctx ends. It waits
// for in-flight provider calls before returning.
func (c *Controller) Run(ctx context.Context) error {
	defer c.wg.Wait()
	// A new term (Run starts on each leadership gain) trusts no copy kept
	// from an earlier one: other replicas wrote meanwhile.
	c.live.invalidate()
	c.startReconcile(ctx)
	var wake *time.Timer
	wakeC := func() <-chan time.Time {
		if wake == nil {
			return nil
		}
		return wake.C
	}
	tick := time.NewTicker(c.o.ReconcileInterval)
	defer tick.Stop()
	c.Notify()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.kick:
		case <-wakeC():
		case <-tick.C:
			c.live.invalidate()
			c.startReconcile(ctx)
		}
		next := c.step(ctx)
		if wake != nil {
			wake.Stop()
			wake = nil
		}
		if !next.IsZero() {
			wake = time.NewTimer(max(next.Sub(c.o.Now()), time.Millisecond))
		}
	}
}

// step makes one decision and starts carrying it out. It returns when the
// loop should next wake with no event.
func (c *Controller) step(ctx context.Context) time.Time {
	now := c.o.Now()
	c.spentMu.Lock()
	snap, err := c.snapshot(ctx, now)
	if err != nil {
		c.spentMu.Unlock()
		c.log.Error("read snapshot", "err", err)
		return now.Add(time.Second)
	}
	snap.Health = c.observeHealth(snap.Pools)
	lapse := c.holdSpentJobs(&snap)
	c.spentMu.Unlock()
	c.bindWaiting(ctx, &snap)
	d := scheduler.Decide(snap)
	c.warn(d.Warnings)
	pools := make(map[string]core.Pool, len(snap.Pools))
	for _, p := range snap.Pools {
		pools[p.ID] = p
	}
	arrivals := c.takeArrivals(d.Jobs, snap.Jobs)
	at := make([]time.Time, len(d.Creates))
	for n, cr := range d.Creates {
		if cr.Reason == core.CreateForJob && len(arrivals[cr.PoolID]) > 0 {
			at[n], arrivals[cr.PoolID] = arrivals[cr.PoolID][0], arrivals[cr.PoolID][1:]
		}
	}
	c.planCreates(ctx, d.Creates, pools, at)
	for _, del := range d.Deletes {
		c.planDelete(ctx, del.InstanceName, del.Reason)
	}
	for _, r := range d.Retries {
		if _, err := c.o.Store.UpdateInstance(ctx, r.InstanceName, func(i *core.Instance) error {
			i.State = core.InstancePendingCreate
			return nil
		}); err != nil {
			c.log.Error("retry instance", "instance", r.InstanceName, "err", err)
		}
	}
	next := c.launchPending(ctx, now)
	// Bookkeeping last: machines are already on their way.
	c.recordJobNotes(ctx, snap.Jobs, d.Jobs)
	c.observeInstances(snap)
	if next.IsZero() || (!d.NextWake.IsZero() && d.NextWake.Before(next)) {
		next = d.NextWake
	}
	if next.IsZero() || (!lapse.IsZero() && lapse.Before(next)) {
		next = lapse
	}
	return next
}

func (c *Controller) snapshot(ctx context.Context, now time.Time) (scheduler.Snapshot, error) {
	pools, err := c.o.Store.ListPools(ctx)
	if err != nil {
		return scheduler.Snapshot{}, err
	}
	c.live.leading(c.o.Leading == nil || c.o.Leading())
	insts, jobs, err := c.live.read(ctx, c.o.Store)
	if err != nil {
		return scheduler.Snapshot{}, err
	}
	rules, err := c.labelRules(ctx)
	if err != nil {
		return scheduler.Snapshot{}, err
	}
	tenants, err := c.o.Store.ListTenants(ctx)
	if err != nil {
		return scheduler.Snapshot{}, err
	}
	return scheduler.Snapshot{Now: now, Pools: pools, Instances: insts, Jobs: jobs,
		IdleGrace: c.o.IdleGrace, MaxCreateAttempts: c.o.MaxCreateAttempts, LabelRules: rules,
		Tenants: tenants, Capacity: c.o.Capacity, BudgetUsed: c.budgetUsed(ctx, now, tenants)}, nil
}

// labelRules maps each entity to its forge's label-matching rules, so the
// scheduler matches pools the way the forge will match runners.
func (c *Controller) labelRules(ctx context.Context) (map[string]forge.LabelRules, error) {
	forges, err := c.o.Store.ListForges(ctx)
	if err != nil {
		return nil, err
	}
	ents, err := c.o.Store.ListEntities(ctx)
	if err != nil {
		return nil, err
	}
	kind := make(map[string]core.ForgeKind, len(forges))
	for _, f := range forges {
		kind[f.ID] = f.Kind
	}
	out := make(map[string]forge.LabelRules, len(ents))
	for _, e := range ents {
		out[e.ID] = forge.LabelRulesFor(kind[e.ForgeID])
	}
	return out, nil
}

// recordJobNotes stores the scheduler's pool choice and waiting reason on each
// queued job whose note changed (one transaction), so `paddock job list` shows
// why a job waits.
func (c *Controller) recordJobNotes(ctx context.Context, jobs []core.Job, notes []scheduler.JobNote) {
	cur := make(map[jobKey]core.Job, len(jobs))
	for _, j := range jobs {
		cur[jobKey{j.EntityID, j.ID}] = j
	}
	changed := map[jobKey]scheduler.JobNote{}
	var keys []store.JobKey
	for _, n := range notes {
		k := jobKey{n.EntityID, n.JobID}
		j, ok := cur[k]
		if !ok || (j.PoolID == n.PoolID && j.Note == n.Note) {
			continue
		}
		if n.Note != "" && n.Note != j.Note {
			c.log.Warn("job waits", "job", n.JobID, "labels", j.Labels, "reason", n.Note)
		}
		changed[k] = n
		keys = append(keys, store.JobKey{EntityID: n.EntityID, ID: n.JobID})
	}
	err := c.o.Store.UpdateJobs(ctx, keys, func(j *core.Job) error {
		n := changed[jobKey{j.EntityID, j.ID}]
		j.PoolID, j.Note = n.PoolID, n.Note
		return nil
	})
	if err != nil {
		c.log.Warn("record job notes", "jobs", len(keys), "err", err)
	}
}

func (c *Controller) observeInstances(s scheduler.Snapshot) {
	names := map[string]string{}
	for _, p := range s.Pools {
		names[p.ID] = p.Name
	}
	// Counted here first: a label lookup per instance (10,000 a pass) cost
	// more than the decision itself.
	type poolState struct{ pool, state string }
	counts := map[poolState]int{}
	for _, i := range s.Instances {
		counts[poolState{names[i.PoolID], string(i.State)}]++
	}
	c.o.Metrics.Instances.Reset()
	for k, n := range counts {
		c.o.Metrics.Instances.WithLabelValues(k.pool, k.state).Set(float64(n))
	}
}

type jobKey struct {
	entity string
	id     int64
}

// takeArrivals hands out, per pool, the arrival times of queued jobs that the
// scheduler placed in a pool, oldest first, so each machine made for a job
// records the latency from that job's event to its provider call.
//
// A job whose event another replica took has no arrival here: its stored
// ReceivedAt serves, the first time the job is placed (its pool is not yet
// recorded on it).
func (c *Controller) takeArrivals(notes []scheduler.JobNote, jobs []core.Job) map[string][]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var stored map[jobKey]time.Time
	out := map[string][]time.Time{}
	for _, n := range notes {
		k := jobKey{n.EntityID, n.JobID}
		at, ok := c.arrivals[k]
		if !ok && c.o.Leading != nil {
			if stored == nil {
				stored = make(map[jobKey]time.Time, len(jobs))
				for _, j := range jobs {
					if j.PoolID == "" && !j.ReceivedAt.IsZero() {
						stored[jobKey{j.EntityID, j.ID}] = j.ReceivedAt
					}
				}
			}
			at, ok = stored[k]
		}
		if !ok {
			continue
		}
		delete(c.arrivals, k)
		// A job that must wait for capacity measures the pool's size, not
		// dispatch speed: it is left out of the dispatch latency.
		if n.PoolID != "" && n.Note == "" {
			out[n.PoolID] = append(out[n.PoolID], at)
		}
	}
	for _, ts := range out {
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	}
	return out
}

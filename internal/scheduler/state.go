package scheduler

import (
	"slices"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// group is one (pool, size label) bucket: a job that asked for a size can only
// be taken by a runner registered with that size label, so sizes are counted
// apart. The default group has key "".
//
// A shared pool's machines bound to another entity than the pool's own form
// groups of their own (entity set): they can only take that entity's jobs.
type group struct {
	key     string
	sizeKey string // the size label part of key
	entity  string // "" = the pool's own entity
	size    Size   // parsed size of the jobs in the group; set once a job lands here

	avail int   // machines that are or will become idle runners
	idle  []int // indexes (instance order) of running+idle machines, oldest first

	// Filled while assigning jobs.
	freeAvail  int // avail not yet claimed by a job
	waiting    int // jobs counted against this group
	jobCreates int // jobs that claimed a new machine

	idleCreates int // default group: creates plan grants to idle targets
}

// poolState is Decide's bookkeeping for one pool.
type poolState struct {
	pool *core.Pool
	live int
	busy int
	room int // max_runners − live − creates planned so far, never negative
	// deflt is the default group (key ""): min_idle needs it even with no
	// machines or jobs. groups holds the others by key, nil while none.
	deflt  group
	groups map[string]*group

	// Create backoff of a failing pool (see PoolHealth).
	health     PoolHealth
	budget     int   // creates that may start now; -1 = unlimited
	inflight   int   // pending_create or creating machines this decision does not delete
	created    int   // creates planned so far
	dueRetries []int // failing pool: retries due, held for what budget is left
	unmet      int   // machines the pool wants beyond what is available and planned (plan)

	fullNote string // waitNote's text, once made

	flavor   Size // the pool flavor parsed as a size, if flavorOK
	flavorOK bool
	tenant   *tenantState // the tenant of the pool's own entity
	prov     *provState   // nil: the provider has no declared capacity

	others     []*group // groups but the default, by key: plan's create order
	idleReason core.CreateReason
}

func (ps *poolState) group(key string) *group {
	if key == "" {
		return &ps.deflt
	}
	g := ps.groups[key]
	if g == nil {
		g = &group{key: key, sizeKey: key}
		ps.addGroup(g)
	}
	return g
}

// addGroup files a group other than the default one; most pools have none,
// so the map is made on first use.
func (ps *poolState) addGroup(g *group) {
	if ps.groups == nil {
		ps.groups = map[string]*group{}
	}
	ps.groups[g.key] = g
}

// groupFor is the group of machines bound to entity (a job's, or an
// instance's EntityID; "" or the pool's own entity = the pool's groups).
func (ps *poolState) groupFor(entity, size string) *group {
	if entity == "" || entity == ps.pool.EntityID {
		return ps.group(size)
	}
	key := entity + "\x00" + size
	g := ps.groups[key]
	if g == nil {
		g = &group{key: key, sizeKey: size, entity: entity}
		ps.addGroup(g)
	}
	return g
}

// decider carries one Decide call's working state.
type decider struct {
	now         time.Time
	idleGrace   time.Duration
	maxAttempts int
	rules       map[string]forge.LabelRules

	pools  []core.Pool // sorted by Name, then ID: the order creates come out in; never written
	states []*poolState
	byID   map[string]*poolState
	// instances point into the snapshot (never written), sorted by CreatedAt, then Name.
	instances []*core.Instance

	// deleted holds, by instance index, why this decision deletes it: 0 =
	// kept, else 1 + an index into delReasons (a byte, not a string, so ten
	// thousand instances cost 10 kB the collector need not scan). Each
	// instance gets at most one rule; reading it back in index order puts
	// deletes in instance order without a sort.
	deleted    []uint8
	delReasons []core.DeleteReason
	nDeletes   int
	out        Decision

	share // tenants, quotas and provider capacity (share.go)
}

func newDecider(s Snapshot) *decider {
	d := &decider{
		now:         s.Now,
		idleGrace:   s.IdleGrace,
		maxAttempts: s.MaxCreateAttempts,
		rules:       s.LabelRules,
		pools:       s.Pools,
		byID:        make(map[string]*poolState, len(s.Pools)),
	}
	byName := func(a, b core.Pool) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	}
	// The store lists pools by name: then the caller's slice serves as is
	// (never written), sparing a copy of a thousand large structs.
	if !slices.IsSortedFunc(d.pools, byName) {
		d.pools = slices.Clone(d.pools)
		slices.SortStableFunc(d.pools, byName)
	}
	d.instances = sortedPtrs(s.Instances, func(a, b *core.Instance) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	d.deleted = make([]uint8, len(d.instances))
	d.initShare(s)
	d.states = make([]*poolState, len(d.pools))
	slab := make([]poolState, len(d.pools)) // one allocation for a thousand pools
	for i := range d.pools {
		ps := &slab[i]
		ps.pool = &d.pools[i]
		ps.health = s.Health[ps.pool.ID]
		ps.flavor, ps.flavorOK = core.ParseSize(ps.pool.Flavor)
		ps.tenant, ps.prov = d.tenantFor(ps.pool.EntityID), d.provs[ps.pool.Provider]
		d.states[i] = ps
		if _, dup := d.byID[ps.pool.ID]; !dup {
			d.byID[ps.pool.ID] = ps
		}
	}
	return d
}

func (d *decider) del(idx int, reason core.DeleteReason) {
	code := slices.Index(d.delReasons, reason)
	if code < 0 {
		code = len(d.delReasons) // a handful of reasons exist: the byte cannot overflow
		d.delReasons = append(d.delReasons, reason)
	}
	if d.deleted[idx] == 0 {
		d.nDeletes++
	}
	d.deleted[idx] = uint8(code + 1)
}

// wakeAt records t as a candidate NextWake; only future moments count.
func (d *decider) wakeAt(t time.Time) {
	if !t.After(d.now) {
		return
	}
	if d.out.NextWake.IsZero() || t.Before(d.out.NextWake) {
		d.out.NextWake = t
	}
}

// managed reports whether the scheduler may still act on a machine in state
// st. Machines already being deleted, or lost by the provider (reconcile's
// business), only hold capacity.
func managed(st core.InstanceState) bool {
	switch st {
	case core.InstancePendingCreate, core.InstanceCreating, core.InstanceRunning, core.InstanceError:
		return true
	}
	return false
}

// bootstrapStart is when an instance's bootstrap clock started: its creation,
// or for a machine that has been retried (Attempts > 0) the later StateSince,
// so a retry gets a full bootstrap window instead of timing out at once.
func bootstrapStart(in *core.Instance) time.Time {
	if !in.BoundAt.IsZero() {
		// A late-bound warm machine fetches its config only once bound.
		return in.BoundAt
	}
	if in.Attempts > 0 && in.StateSince.After(in.CreatedAt) {
		return in.StateSince
	}
	return in.CreatedAt
}

// classify applies the per-instance rules (pool gone or disabled, errors,
// timeouts, finished runners) and counts what remains into its pool's groups.
func (d *decider) classify() {
	for idx := range d.instances {
		in := d.instances[idx]
		if in.State == core.InstanceDeleted {
			continue // gone: holds no capacity
		}
		ps := d.byID[in.PoolID]
		if ps == nil {
			if managed(in.State) && !in.Runner.Busy() {
				d.del(idx, core.DeletePoolGone)
			}
			continue
		}
		ps.live++
		d.hold(ps, in)
		if managed(in.State) {
			d.classifyManaged(idx, in, ps)
		}
	}
}

func (d *decider) classifyManaged(idx int, in *core.Instance, ps *poolState) {
	p := ps.pool
	// A busy runner is checked first whatever its state: only the runtime
	// limit may take a machine away from a running job.
	if in.Runner.Busy() {
		if p.MaxJobRuntime > 0 {
			deadline := in.RunnerSince.Add(p.MaxJobRuntime)
			if d.now.After(deadline) {
				d.del(idx, core.DeleteMaxJobRuntime)
				return
			}
			d.wakeAt(deadline.Add(time.Nanosecond)) // first instant "longer than" holds
		}
		ps.busy++
		return
	}
	if in.State == core.InstanceError {
		switch {
		case !p.Enabled:
			d.del(idx, core.DeletePoolDisabled)
		case in.Attempts >= d.maxAttempts:
			d.del(idx, core.DeleteRetriesExhausted)
		case !in.NextAttemptAt.After(d.now) && ps.health.Failing():
			// A retry calls the provider like a create: it waits for what is
			// left of the pool's create budget once new machines are planned.
			ps.dueRetries = append(ps.dueRetries, idx)
		case !in.NextAttemptAt.After(d.now):
			d.out.Retries = append(d.out.Retries, Retry{InstanceName: in.Name})
			// Retried, it is a pending_create machine: counting it now keeps the
			// next decision from seeing it as new surplus or new supply.
			ps.groupFor(in.EntityID, strings.ToLower(in.Size)).avail++
		default:
			d.wakeAt(in.NextAttemptAt)
		}
		return
	}
	// A disabled pool keeps only machines running a job (handled above): one
	// still booting would otherwise live until bootstrap_timeout.
	if !p.Enabled && (in.Runner == core.RunnerPending || in.Runner == core.RunnerInstalling || in.Runner == core.RunnerIdle) {
		d.del(idx, core.DeletePoolDisabled)
		return
	}
	g := ps.groupFor(in.EntityID, strings.ToLower(in.Size))
	switch in.Runner {
	case core.RunnerDone:
		d.del(idx, core.DeleteRunnerDone)
	case core.RunnerFailed:
		d.del(idx, core.DeleteRunnerFailed)
	case core.RunnerPending, core.RunnerInstalling:
		// A warm machine that booted and waits unbound (it reported
		// installing) waits for a job like an idle runner, without a clock.
		if p.BootstrapTimeout > 0 && !(in.Runner == core.RunnerInstalling && Waiting(in)) {
			deadline := bootstrapStart(in).Add(p.BootstrapTimeout)
			if d.now.After(deadline) {
				d.del(idx, core.DeleteBootstrapTimeout)
				return
			}
			d.wakeAt(deadline.Add(time.Nanosecond))
		}
		g.avail++
	case core.RunnerIdle:
		if in.State != core.InstanceRunning {
			g.avail++ // a webhook overtook the provider: idle soon, not deletable yet
			return
		}
		g.avail++
		g.idle = append(g.idle, idx)
	}
}

// sortedPtrs returns pointers to xs's elements, sorted by cmp. The
// elements are large structs: sorting pointers moves far less memory, and
// nothing is copied.
func sortedPtrs[T any](xs []T, cmp func(a, b *T) int) []*T {
	out := make([]*T, len(xs))
	for i := range xs {
		out[i] = &xs[i]
	}
	if !slices.IsSortedFunc(out, cmp) { // the store lists instances in this order
		slices.SortFunc(out, cmp)
	}
	return out
}

package scheduler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
)

// Decide returns what to do now for snapshot s. It is pure and deterministic:
// creates come out by pool (Name, then ID) and size label, deletes and retries
// in instance order (CreatedAt, then Name), job notes in queue order (QueuedAt,
// then ID, then EntityID).
//
// Counting, per pool: every instance passed in holds a max_runners slot
// ("live"), including ones in error or being deleted. "Available" means a
// machine that is or will become an idle runner (pending_create, creating or
// running with runner pending, installing or idle). An instance in error
// awaiting its retry is not available, so demand creates a replacement; a
// retry that then comes up may be surplus and is scaled down once idle. An
// instance retried by this very Decision counts as available, as it will be
// once the retry is applied.
//
// A pool whose creates keep failing (Snapshot.Health) gets at most one
// provider create at a time — a new machine first, else a due retry; a due
// retry the pool no longer needs is removed instead — and
// none before its NextCreateAt, which becomes a wake-up; its jobs that no
// other pool takes are noted as waiting on it.
//
// Contract with the applier: Attempts counts failed creates, so a retried
// instance has Attempts > 0 and its bootstrap clock restarts at its StateSince
// (stamped by the store when the retry moves it to pending_create).
func Decide(s Snapshot) Decision {
	d := newDecider(s)
	d.classify()
	d.budgets()
	d.assignJobs(s.Jobs)
	planned := 0
	for _, ps := range d.states {
		if ps.pool.Enabled {
			planned += d.plan(ps)
		}
	}
	// Counted first so the output, thousands of large structs at scale, is
	// allocated once.
	if planned > 0 {
		d.out.Creates = make([]Create, 0, planned)
	}
	for _, ps := range d.states {
		if ps.pool.Enabled {
			d.emitCreates(ps)
		}
	}
	d.heldRetries()
	d.finishDeletes()
	return d.out
}

// assignJobs maps each queued job to a pool and size group: the best matching
// pool that has an available machine of the job's size or room for a new one
// (spill-over past full pools); failing that, the best pool, with a note
// saying why the job waits.
//
// A lower-priority pool's idle machine does not pull a job away from a better
// pool with room. Doing so looks thriftier but breaks idempotence: the
// better pool's idle-target creates would claim the job on the next decision.
// The forge may still hand the job to that idle runner; the better pool's new
// machine is then surplus and scaled down once idle.
func (d *decider) assignJobs(jobs []core.Job) {
	m := newMatcher(d.pools, d.rules, d.tenantOf)
	for _, ps := range d.states {
		ps.deflt.freeAvail = ps.deflt.avail
		for _, g := range ps.groups {
			g.freeAvail = g.avail
		}
		// Clamped to the validated bound: a stored row that escaped
		// validation must not make one decision plan millions of machines.
		ps.room = max(0, min(ps.pool.MaxRunners, check.MaxRunnersLimit)-ps.live)
		if ps.budget >= 0 {
			ps.room = min(ps.room, ps.budget)
		}
	}
	queue := sortedPtrs(jobs, func(a, b *core.Job) int {
		if c := a.QueuedAt.Compare(b.QueuedAt); c != 0 {
			return c
		}
		if a.ID != b.ID {
			if a.ID < b.ID {
				return -1
			}
			return 1
		}
		return strings.Compare(a.EntityID, b.EntityID)
	})
	// One pass in queue order reads each job once; fair share then visits
	// queue positions out of order, touching only these compact arrays.
	d.out.Jobs = make([]JobNote, len(queue))
	memos := make([]*matchMemo, len(queue))
	for pos, j := range queue {
		memo := m.matchJob(j.EntityID, j.Labels)
		if memo.tenant == nil {
			memo.tenant = d.tenantFor(j.EntityID)
		}
		memos[pos] = memo
		d.out.Jobs[pos] = JobNote{EntityID: j.EntityID, JobID: j.ID}
	}
	d.fairOrder(memos, func(pos int) { d.assignJob(&d.out.Jobs[pos], memos[pos]) })
}

func (d *decider) assignJob(note *JobNote, memo *matchMemo) {
	matches := memo.found
	if len(matches) == 0 {
		note.Note = memo.why
		return
	}
	if memo.groups == nil {
		memo.groups = make([]*group, len(matches))
	}
	t := memo.tenant
	var chosen *group
	var chosenPool *poolState
	blocked := "" // the first quota or capacity that kept a pool with room from creating
	for i, pm := range matches {
		ps := d.states[pm.pool]
		g := memo.groupAt(i, ps)
		if g.freeAvail > 0 {
			g.freeAvail--
			chosen, chosenPool = g, ps
			break
		}
		if ps.room > 0 {
			sz := createSize(ps, pm.size)
			if why := d.admit(t, ps.prov, sz); why != "" {
				// The tenant's own quota is named first: raising it is
				// what would let the job run somewhere.
				if blocked == "" || (!isQuota(blocked) && isQuota(why)) {
					blocked = why
				}
				continue
			}
			d.consume(t, ps.prov, sz)
			ps.room--
			g.jobCreates++
			chosen, chosenPool = g, ps
			break
		}
	}
	if chosen == nil {
		chosenPool = d.states[matches[0].pool]
		chosen = memo.groupAt(0, chosenPool)
		note.Note = blocked
		if blocked == "" {
			note.Note = chosenPool.waitNote()
		}
	}
	chosen.waiting++
	note.PoolID = chosenPool.pool.ID
}

// groupAt returns the group the memo's i-th match counts a job in, made on
// first use (a group exists only once a job or machine reached it).
func (memo *matchMemo) groupAt(i int, ps *poolState) *group {
	g := memo.groups[i]
	if g == nil {
		pm := memo.found[i]
		g = ps.groupFor(memo.entity, pm.size.Label)
		g.size = pm.size
		memo.groups[i] = g
	}
	return g
}

// plan counts an enabled pool's creates into its groups, emits its
// scale-down deletes, and returns how many creates it planned. Job creates
// were already bounded by the pool's room while assigning jobs; idle targets
// get what room is left.
func (d *decider) plan(ps *poolState) int {
	p := ps.pool
	freeTarget := 0
	if pct := min(p.FreeTargetPercent, 100); pct > 0 {
		freeTarget = (ps.busy*pct + 99) / 100
	}
	minIdle := min(p.MinIdle, check.MaxRunnersLimit)
	targetIdle := max(minIdle, freeTarget, 0)
	ps.idleReason = core.CreateMinIdle
	if freeTarget > minIdle {
		ps.idleReason = core.CreateFreeTarget
	}
	ps.others = make([]*group, 0, len(ps.groups))
	for _, g := range ps.groups {
		ps.others = append(ps.others, g)
	}
	slices.SortFunc(ps.others, func(a, b *group) int { return strings.Compare(a.key, b.key) })
	g := &ps.deflt
	want := g.waiting + targetIdle
	if deficit := want - g.avail - g.jobCreates; deficit > 0 {
		g.idleCreates = d.grant(ps, min(deficit, ps.room))
		ps.room -= g.idleCreates
	}
	d.scaleDown(g, g.avail-want)
	planned := g.jobCreates + g.idleCreates
	ps.unmet = max(want-g.avail-planned, 0)
	for _, g := range ps.others {
		planned += g.jobCreates
		d.scaleDown(g, g.avail-g.waiting)
		ps.unmet += max(g.waiting-g.avail-g.jobCreates, 0)
	}
	ps.created += planned
	return planned
}

// emitCreates appends the creates plan counted for a pool: the default
// group's first, then by group key; job creates before idle-target ones.
func (d *decider) emitCreates(ps *poolState) {
	d.creates(ps, &ps.deflt, ps.deflt.jobCreates, core.CreateForJob)
	d.creates(ps, &ps.deflt, ps.deflt.idleCreates, ps.idleReason)
	for _, g := range ps.others {
		d.creates(ps, g, g.jobCreates, core.CreateForJob)
	}
}

func (d *decider) creates(ps *poolState, g *group, n int, reason core.CreateReason) {
	if n <= 0 {
		return
	}
	p := ps.pool
	size := g.size
	if g.sizeKey == "" {
		size = Size{}
		if ps.flavorOK {
			size = ps.flavor
			size.Label = "" // the flavor sets resources; the machine still serves unsized jobs
		}
	}
	// One label slice for the pool's creates of this size: capped, so a
	// caller's append copies instead of writing into a shared array.
	labels := slices.Clone(p.Labels)
	if size.Label != "" {
		labels = append(labels, size.Label)
	}
	labels = slices.Clip(labels)
	for range n {
		d.out.Creates = append(d.out.Creates, Create{
			PoolID: p.ID, Labels: labels, Size: size.Label,
			CPU: size.CPU, MemoryMB: size.MemoryMB, DiskGB: size.DiskGB,
			Reason: reason, EntityID: g.entity,
		})
	}
}

// scaleDown deletes up to surplus idle runners that have been idle for the
// grace period, oldest machine first. If surplus remains only because of the
// grace period, the earliest expiry becomes a wake-up.
func (d *decider) scaleDown(g *group, surplus int) {
	for _, idx := range g.idle {
		if surplus <= 0 {
			return
		}
		if d.now.Sub(d.instances[idx].RunnerSince) >= d.idleGrace {
			d.del(idx, core.DeleteScaleDown)
			surplus--
		}
	}
	if surplus <= 0 {
		return
	}
	for _, idx := range g.idle {
		in := d.instances[idx]
		if d.now.Sub(in.RunnerSince) < d.idleGrace {
			d.wakeAt(in.RunnerSince.Add(d.idleGrace))
		}
	}
}

// finishDeletes puts deletes in instance order, whichever rule produced them.
func (d *decider) finishDeletes() {
	if d.nDeletes == 0 {
		return
	}
	d.out.Deletes = make([]Delete, 0, d.nDeletes)
	for idx, code := range d.deleted {
		if code != 0 {
			d.out.Deletes = append(d.out.Deletes, Delete{InstanceName: d.instances[idx].Name, Reason: d.delReasons[code-1]})
		}
	}
}

// budgets sets each pool's create budget from its health, and wakes the loop
// when a failing pool may create again. A create counts as in flight while its
// instance is pending_create or creating, unless this decision deletes it
// (the next decision sees it pending_delete, and must decide the same).
func (d *decider) budgets() {
	for idx, in := range d.instances {
		if (in.State == core.InstancePendingCreate || in.State == core.InstanceCreating) && d.deleted[idx] == 0 {
			if ps := d.byID[in.PoolID]; ps != nil {
				ps.inflight++
			}
		}
	}
	for _, ps := range d.states {
		// Pools sharing an id (a bad store row) count the same machines.
		ps.budget = ps.health.budget(d.now, d.byID[ps.pool.ID].inflight)
		if ps.health.Failing() {
			d.wakeAt(ps.health.NextCreateAt)
		}
	}
}

// heldRetries gives a failing pool's leftover create budget to its due
// retries (oldest instance first), then puts all retries in instance order.
func (d *decider) heldRetries() {
	pos := map[string]int{}
	for _, ps := range d.states {
		for _, idx := range ps.dueRetries {
			if !ps.pool.Enabled {
				break
			}
			if ps.unmet <= 0 {
				// The pool has what it wants without this machine: a retry
				// would be a call to a failing provider for a machine the next
				// decision scales down. Remove it instead (its slot and
				// whatever the failed create left behind).
				d.del(idx, core.DeleteScaleDown)
				continue
			}
			if ps.created >= ps.budget {
				break
			}
			ps.created++
			ps.unmet--
			in := d.instances[idx]
			d.out.Retries = append(d.out.Retries, Retry{InstanceName: in.Name})
			// Counted as supply only from the next decision on: this one has
			// already planned with the budget it leaves.
			pos[in.Name] = idx
		}
	}
	if len(pos) == 0 {
		return
	}
	for i := range d.instances {
		if _, ok := pos[d.instances[i].Name]; !ok {
			pos[d.instances[i].Name] = i
		}
	}
	slices.SortStableFunc(d.out.Retries, func(a, b Retry) int { return pos[a.InstanceName] - pos[b.InstanceName] })
}

// waitNote says why a job counted against this full pool waits. It is made
// once per pool: thousands of jobs may wait on one pool.
func (ps *poolState) waitNote() string {
	if ps.fullNote == "" {
		ps.fullNote = fmt.Sprintf("pool %q at max_runners (%d)", ps.pool.Name, ps.pool.MaxRunners)
		if ps.health.Failing() {
			// Kept free of the error text and retry time: a note that changes
			// on every attempt would be stored and logged on every attempt.
			ps.fullNote = fmt.Sprintf("pool %q is backing off: its machine creates keep failing (see paddock pool list)", ps.pool.Name)
		}
	}
	return ps.fullNote
}

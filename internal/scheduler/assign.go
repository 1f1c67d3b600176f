package scheduler

import (
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
)

// Assignment binds a waiting unbound warm machine to one queued job: the
// machine's runner is then registered with the job's entity (late binding,
// docs/sharing.md).
type Assignment struct {
	InstanceName string
	EntityID     string
	JobID        int64
}

// Waiting reports whether an instance is a warm machine still waiting
// unbound: made unbound, never bound, its config never fetched, and alive.
// Only such a machine may be assigned; one ever bound never is again.
func Waiting(in *core.Instance) bool {
	if !in.Unbound || in.BoundJobID != 0 || in.EntityID != "" || in.TokenUsed {
		return false
	}
	switch in.State {
	case core.InstanceCreating, core.InstanceRunning:
		return in.Runner == core.RunnerPending || in.Runner == core.RunnerInstalling
	}
	return false
}

// Assign pairs queued jobs with waiting unbound machines. It is pure and
// deterministic. A job is served only by a machine of a pool that serves
// the job's entity and labels, of the size the job asks for (a warm machine
// is made at the pool's default size, so a sized job needs a machine of that
// size label); at most one machine per job and one job per machine; a job
// some machine is already bound to is skipped. Tenants' max_machines,
// max_vcpu and hard monthly budgets hold (machines count against the tenant of the entity they are
// bound to, as in Decide; a waiting machine counts against none). Across
// tenants jobs are taken by weighted fair share (fewest machines per unit of
// weight first), within a tenant FIFO (QueuedAt, then ID, then EntityID).
func Assign(s Snapshot) []Assignment {
	d := &decider{}
	d.initShare(s)
	m := newMatcher(s.Pools, s.LabelRules, d.tenantOf)
	poolByID := make(map[string]*core.Pool, len(s.Pools))
	for i := range s.Pools {
		poolByID[s.Pools[i].ID] = &s.Pools[i]
	}
	type jobKey struct {
		entity string
		id     int64
	}
	bound := map[jobKey]bool{}
	waiting := map[int][]*core.Instance{} // pool index -> waiting machines, store order
	poolIdx := make(map[string]int, len(s.Pools))
	for i := range s.Pools {
		poolIdx[s.Pools[i].ID] = i
	}
	insts := sortedPtrs(s.Instances, func(a, b *core.Instance) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, in := range insts {
		p := poolByID[in.PoolID]
		if p == nil {
			continue
		}
		if Waiting(in) {
			if p.Enabled {
				waiting[poolIdx[p.ID]] = append(waiting[poolIdx[p.ID]], in)
			}
			continue
		}
		if in.State == core.InstanceDeleted {
			continue
		}
		e := in.EntityID
		if e == "" {
			e = p.EntityID
		}
		if in.BoundJobID != 0 {
			bound[jobKey{e, in.BoundJobID}] = true
		}
		t := d.tenantFor(e)
		t.machines++
		t.vcpu += vcpu(in.CPU)
	}
	if len(waiting) == 0 {
		return nil
	}
	queue := sortedPtrs(s.Jobs, func(a, b *core.Job) int {
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
	var tenants []*tenantState
	perTenant := map[*tenantState][]*core.Job{}
	for _, j := range queue {
		if j.State != "" && j.State != core.JobQueued || bound[jobKey{j.EntityID, j.ID}] {
			continue
		}
		t := d.tenantFor(j.EntityID)
		if _, ok := perTenant[t]; !ok {
			tenants = append(tenants, t)
		}
		perTenant[t] = append(perTenant[t], j)
	}
	var out []Assignment
	for {
		t := fairest(tenants, perTenant)
		if t == nil {
			return out
		}
		j := perTenant[t][0]
		perTenant[t] = perTenant[t][1:]
		in := takeWaiting(m, waiting, j)
		if in == nil {
			continue
		}
		if t.overBudget != "" || (t.maxMachines > 0 && t.machines+1 > t.maxMachines) || (t.maxVCPU > 0 && t.vcpu+vcpu(in.CPU) > t.maxVCPU) {
			// Put it back: another tenant's job may take it.
			waiting[poolIdx[in.PoolID]] = append([]*core.Instance{in}, waiting[poolIdx[in.PoolID]]...)
			perTenant[t] = nil // FIFO within the tenant: its later jobs wait too
			continue
		}
		t.machines++
		t.vcpu += vcpu(in.CPU)
		out = append(out, Assignment{InstanceName: in.Name, EntityID: j.EntityID, JobID: j.ID})
	}
}

// fairest is the tenant with jobs left holding the fewest machines per unit
// of weight (ties: name).
func fairest(tenants []*tenantState, jobs map[*tenantState][]*core.Job) *tenantState {
	var best *tenantState
	for _, t := range tenants {
		if len(jobs[t]) == 0 {
			continue
		}
		if best == nil || t.machines*best.weight < best.machines*t.weight ||
			(t.machines*best.weight == best.machines*t.weight && t.name < best.name) {
			best = t
		}
	}
	return best
}

// takeWaiting removes and returns the first waiting machine, in pool rank
// order, that can serve j; nil if none.
func takeWaiting(m *matcher, waiting map[int][]*core.Instance, j *core.Job) *core.Instance {
	for _, f := range m.matchJob(j.EntityID, j.Labels).found {
		list := waiting[f.pool]
		for k, in := range list {
			if strings.EqualFold(in.Size, f.size.Label) {
				waiting[f.pool] = append(list[:k:k], list[k+1:]...)
				return in
			}
		}
	}
	return nil
}

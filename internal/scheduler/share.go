package scheduler

import (
	"container/heap"
	"fmt"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
)

// share is Decide's bookkeeping for tenants (quotas, weights) and provider
// capacity. Machines count against the tenant of the entity they are bound
// to (the instance's EntityID, else its pool's) and against their pool's
// provider, from pending_create until deleted, whatever their state.
type share struct {
	byEntity map[string]*tenantState // entity id -> tenant, for listed entities
	byName   map[string]*tenantState
	tenantOf map[string]string // entity id -> tenant name, for the matcher
	deflt    *tenantState
	provs    map[string]*provState // providers with a declared capacity
}

type tenantState struct {
	name                 string
	weight               int
	maxMachines, maxVCPU int
	machines, vcpu       int   // held, plus creates planned so far
	jobs                 []int // queue positions of its jobs, FIFO
	next                 int   // first of jobs not yet assigned
	noteMachines         string
	noteVCPU             string
	overBudget           string // the note while over a hard budget
}

type provState struct {
	name                  string
	cap                   Capacity
	machines, vcpu, memMB int
	notes                 [3]string
}

func (d *decider) initShare(s Snapshot) {
	d.byEntity = map[string]*tenantState{}
	d.byName = map[string]*tenantState{}
	d.tenantOf = map[string]string{}
	for i := range s.Tenants {
		t := &s.Tenants[i]
		ts := d.tenantNamed(t.Name)
		// Clamped like max_runners: a stored row that escaped validation
		// must not stall or divide by zero.
		ts.weight = max(1, t.Weight)
		ts.maxMachines, ts.maxVCPU = max(0, t.MaxMachines), max(0, t.MaxVCPU)
		if used := s.BudgetUsed[t.Name]; t.BudgetMinutes > 0 && used >= float64(t.BudgetMinutes) {
			note := fmt.Sprintf("tenant %q over its monthly budget (%d of %d machine-minutes)",
				t.Name, int64(used), t.BudgetMinutes)
			if t.BudgetMode == core.BudgetSoft {
				d.out.Warnings = append(d.out.Warnings, note+"; budget_mode soft: its jobs still run")
			} else {
				ts.overBudget = note
			}
		}
		for _, e := range t.Entities {
			if _, dup := d.byEntity[e]; !dup {
				d.byEntity[e] = ts
				d.tenantOf[e] = t.Name
			}
		}
	}
	d.deflt = d.tenantNamed(core.DefaultTenant)
	d.provs = make(map[string]*provState, len(s.Capacity))
	for name, c := range s.Capacity {
		d.provs[name] = &provState{name: name, cap: c}
	}
}

func (d *decider) tenantNamed(name string) *tenantState {
	t := d.byName[name]
	if t == nil {
		t = &tenantState{name: name, weight: 1}
		d.byName[name] = t
	}
	return t
}

func (d *decider) tenantFor(entity string) *tenantState {
	if t := d.byEntity[entity]; t != nil {
		return t
	}
	return d.deflt
}

// vcpu is what a machine counts against vCPU limits: unknown sizes count 1.
func vcpu(cpu int) int { return max(1, cpu) }

// hold counts a live instance against its tenant and provider.
func (d *decider) hold(ps *poolState, in *core.Instance) {
	t := ps.tenant
	if in.EntityID != "" && in.EntityID != ps.pool.EntityID {
		t = d.tenantFor(in.EntityID)
	}
	t.machines++
	t.vcpu += vcpu(in.CPU)
	if pv := ps.prov; pv != nil {
		pv.machines++
		pv.vcpu += vcpu(in.CPU)
		pv.memMB += in.MemoryMB
	}
}

// createSize is the size a new machine of the pool gets for a job of size
// (Label "" = the pool's default, its flavor if that parses as a size).
func createSize(ps *poolState, size Size) Size {
	if size.Label == "" && ps.flavorOK {
		return ps.flavor
	}
	return size
}

// admit says why tenant t may not get one more machine of size sz from
// provider pv (nil: one with no declared capacity) ("" = it may).
func (d *decider) admit(t *tenantState, pv *provState, sz Size) string {
	cpu := vcpu(sz.CPU)
	if t.overBudget != "" {
		return t.overBudget
	}
	if t.maxMachines > 0 && t.machines+1 > t.maxMachines {
		if t.noteMachines == "" {
			t.noteMachines = fmt.Sprintf("tenant %q at quota (max_machines %d)", t.name, t.maxMachines)
		}
		return t.noteMachines
	}
	if t.maxVCPU > 0 && t.vcpu+cpu > t.maxVCPU {
		if t.noteVCPU == "" {
			t.noteVCPU = fmt.Sprintf("tenant %q at quota (max_vcpu %d)", t.name, t.maxVCPU)
		}
		return t.noteVCPU
	}
	if pv == nil {
		return ""
	}
	c := pv.cap
	for i, over := range []bool{
		c.MaxMachines > 0 && pv.machines+1 > c.MaxMachines,
		c.VCPU > 0 && pv.vcpu+cpu > c.VCPU,
		c.MemoryMB > 0 && pv.memMB+sz.MemoryMB > c.MemoryMB,
	} {
		if !over {
			continue
		}
		if pv.notes[i] == "" {
			what := [...]string{"max_machines", "vcpu", "memory_mb"}[i]
			limit := [...]int{c.MaxMachines, c.VCPU, c.MemoryMB}[i]
			pv.notes[i] = fmt.Sprintf("provider %q at capacity (%s %d)", pv.name, what, limit)
		}
		return pv.notes[i]
	}
	return ""
}

func isQuota(note string) bool { return strings.HasPrefix(note, "tenant ") }

// consume counts a planned create against its tenant and provider.
func (d *decider) consume(t *tenantState, pv *provState, sz Size) {
	t.machines++
	t.vcpu += vcpu(sz.CPU)
	if pv != nil {
		pv.machines++
		pv.vcpu += vcpu(sz.CPU)
		pv.memMB += sz.MemoryMB
	}
}

// grant admits up to n idle-target creates of the pool's default size for
// its own entity's tenant, and returns how many it admitted.
func (d *decider) grant(ps *poolState, n int) int {
	sz := createSize(ps, Size{})
	for i := range n {
		if d.admit(ps.tenant, ps.prov, sz) != "" {
			return i
		}
		d.consume(ps.tenant, ps.prov, sz)
	}
	return n
}

// fairOrder returns the order in which queued jobs (by queue position) are
// assigned: weighted max-min fairness on machines across tenants, FIFO within
// a tenant. The next job is always the head of the tenant holding the fewest
// machines per unit of weight (ties: the earlier head); each create it gets
// moves its tenant back. One tenant queueing first therefore cannot take all
// the capacity before another's first job is seen. With one tenant the order
// is the queue's.
func (d *decider) fairOrder(queue []*matchMemo, assign func(pos int)) {
	if len(d.byEntity) == 0 { // no tenants: everyone is in the default one
		for i := range queue {
			assign(i)
		}
		return
	}
	var ts tenantHeap
	for i, memo := range queue {
		t := memo.tenant
		if len(t.jobs) == 0 {
			ts = append(ts, t)
		}
		t.jobs = append(t.jobs, i)
	}
	if len(ts) <= 1 {
		for i := range queue {
			assign(i)
		}
		return
	}
	heap.Init(&ts)
	for len(ts) > 0 {
		t := ts[0]
		assign(t.jobs[t.next])
		t.next++
		if t.next == len(t.jobs) {
			heap.Pop(&ts)
		} else {
			heap.Fix(&ts, 0)
		}
	}
}

type tenantHeap []*tenantState

func (h tenantHeap) Len() int { return len(h) }
func (h tenantHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	// a.machines/a.weight < b.machines/b.weight, without division.
	if l, r := a.machines*b.weight, b.machines*a.weight; l != r {
		return l < r
	}
	return a.jobs[a.next] < b.jobs[b.next]
}
func (h tenantHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *tenantHeap) Push(x any)   { *h = append(*h, x.(*tenantState)) }
func (h *tenantHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

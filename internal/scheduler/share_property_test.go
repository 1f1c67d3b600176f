package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"pgregory.net/rapid"
)

var shareEntities = []string{"e1", "e2", "e3", "e4", "e5"}

// genShareSnapshot: shared pools on two providers with capacities, tenants
// with weights and quotas over some entities, busy machines bound to random
// entities, and jobs from every entity (all matching every pool's labels,
// some sized).
func genShareSnapshot(t *rapid.T) Snapshot {
	s := Snapshot{Now: now, MaxCreateAttempts: 3, Capacity: map[string]Capacity{}}
	for _, prov := range []string{"p1", "p2"} {
		if rapid.Bool().Draw(t, "has_cap") {
			s.Capacity[prov] = Capacity{
				MaxMachines: rapid.IntRange(0, 8).Draw(t, "cap_machines"),
				VCPU:        rapid.IntRange(0, 20).Draw(t, "cap_vcpu"),
				MemoryMB:    rapid.SampledFrom([]int{0, 4096, 16384}).Draw(t, "cap_mem"),
			}
		}
	}
	free := shareEntities
	for i := range rapid.IntRange(0, 3).Draw(t, "tenants") {
		n := rapid.IntRange(0, min(2, len(free))).Draw(t, "members")
		tn := core.Tenant{Name: fmt.Sprintf("t%d", i), Entities: free[:n],
			Weight:      rapid.IntRange(1, 4).Draw(t, "weight"),
			MaxMachines: rapid.IntRange(0, 5).Draw(t, "max_machines"),
			MaxVCPU:     rapid.IntRange(0, 12).Draw(t, "max_vcpu")}
		free = free[n:]
		s.Tenants = append(s.Tenants, tn)
	}
	for i := range rapid.IntRange(1, 3).Draw(t, "pools") {
		p := mkPool(fmt.Sprintf("pool%d", i), provider(rapid.SampledFrom([]string{"p1", "p2"}).Draw(t, "prov")),
			maxRunners(rapid.IntRange(0, 8).Draw(t, "max")), priority(rapid.IntRange(0, 2).Draw(t, "prio")),
			sizes(8, 16, 0), entity(rapid.SampledFrom(shareEntities).Draw(t, "home")))
		p.Tenants = []string{core.AllTenants}
		p.MinIdle = rapid.IntRange(0, 2).Draw(t, "min_idle")
		p.Flavor = rapid.SampledFrom([]string{"", "2cpu-4gb"}).Draw(t, "flavor")
		s.Pools = append(s.Pools, p)
	}
	for i := range rapid.IntRange(0, 12).Draw(t, "busy") {
		s.Instances = append(s.Instances, busyInst(fmt.Sprintf("b%02d", i),
			rapid.SampledFrom(s.Pools).Draw(t, "pool").Name,
			boundTo(rapid.SampledFrom(shareEntities).Draw(t, "bound")), cpus(rapid.IntRange(0, 4).Draw(t, "cpu"))))
	}
	for i := range rapid.IntRange(0, 4).Draw(t, "idle") {
		var opts []instOpt
		if rapid.Bool().Draw(t, "idle_bound") {
			opts = append(opts, boundTo(rapid.SampledFrom(shareEntities).Draw(t, "idle_entity")))
		}
		s.Instances = append(s.Instances, idleInst(fmt.Sprintf("i%02d", i), rapid.SampledFrom(s.Pools).Draw(t, "idle_pool").Name,
			time.Hour, opts...))
	}
	for i := range rapid.IntRange(0, 25).Draw(t, "jobs") {
		lbls := []string{"linux"}
		if sz := rapid.SampledFrom([]string{"", "", "2cpu-2gb", "4cpu-8gb"}).Draw(t, "size"); sz != "" {
			lbls = append(lbls, sz)
		}
		s.Jobs = append(s.Jobs, jobOf(rapid.SampledFrom(shareEntities).Draw(t, "job_entity"), int64(i+1), lbls...))
	}
	return s
}

type usage struct{ machines, vcpu, mem int }

func TestShareProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genShareSnapshot(t)
		d := Decide(s)
		tenantOf := map[string]*core.Tenant{}
		for i := range s.Tenants {
			for _, e := range s.Tenants[i].Entities {
				tenantOf[e] = &s.Tenants[i]
			}
		}
		poolByID := map[string]core.Pool{}
		for _, p := range s.Pools {
			poolByID[p.ID] = p
		}
		tenantName := func(e string) string {
			if tn := tenantOf[e]; tn != nil {
				return tn.Name
			}
			return core.DefaultTenant
		}
		before, after := map[string]usage{}, map[string]usage{}
		live := map[string]int{}
		count := func(m map[string]usage, key string, cpu, mem int) {
			u := m[key]
			u.machines++
			u.vcpu += max(1, cpu)
			u.mem += mem
			m[key] = u
		}
		for _, in := range s.Instances {
			p := poolByID[in.PoolID]
			live[p.ID]++
			ent := in.EntityID
			if ent == "" {
				ent = p.EntityID
			}
			for _, m := range []map[string]usage{before, after} {
				count(m, "tenant:"+tenantName(ent), in.CPU, in.MemoryMB)
				count(m, "provider:"+p.Provider, in.CPU, in.MemoryMB)
			}
		}
		creates := map[string]int{}
		for _, c := range d.Creates {
			creates[c.PoolID]++
			ent := c.EntityID
			if ent == "" {
				ent = poolByID[c.PoolID].EntityID
			}
			count(after, "tenant:"+tenantName(ent), c.CPU, c.MemoryMB)
			count(after, "provider:"+poolByID[c.PoolID].Provider, c.CPU, c.MemoryMB)
		}
		// No tenant exceeds its quota, no provider its capacity (unless the
		// machines it already held did).
		within := func(key string, limit, b, a int) {
			if limit > 0 && b <= limit && a > limit {
				t.Fatalf("%s: %d before, %d after the decision, limit %d", key, b, a, limit)
			}
		}
		for _, tn := range s.Tenants {
			k := "tenant:" + tn.Name
			within(k+" machines", tn.MaxMachines, before[k].machines, after[k].machines)
			within(k+" vcpu", tn.MaxVCPU, before[k].vcpu, after[k].vcpu)
		}
		for prov, c := range s.Capacity {
			k := "provider:" + prov
			within(k+" machines", c.MaxMachines, before[k].machines, after[k].machines)
			within(k+" vcpu", c.VCPU, before[k].vcpu, after[k].vcpu)
			within(k+" memory", c.MemoryMB, before[k].mem, after[k].mem)
		}
		// Work-conserving: a job waiting for anything but its tenant's quota
		// finds every pool full or every provider without room for it.
		for i, n := range d.Jobs {
			if n.Note == "" || strings.HasPrefix(n.Note, "tenant ") {
				continue
			}
			j := jobByKey(s.Jobs, n.EntityID, n.JobID)
			sz := Size{}
			if len(j.Labels) > 1 {
				sz, _ = core.ParseSize(j.Labels[1])
			}
			for _, p := range s.Pools {
				if live[p.ID]+creates[p.ID] >= p.MaxRunners {
					continue
				}
				sz := sz
				if sz.Label == "" {
					sz, _ = core.ParseSize(p.Flavor) // the pool's default size
				}
				c, ok := s.Capacity[p.Provider]
				k := "provider:" + p.Provider
				u := after[k]
				if ok && ((c.MaxMachines > 0 && u.machines+1 > c.MaxMachines) || (c.VCPU > 0 && u.vcpu+max(1, sz.CPU) > c.VCPU) ||
					(c.MemoryMB > 0 && u.mem+sz.MemoryMB > c.MemoryMB)) {
					continue
				}
				t.Fatalf("job %d (%s, %v) waits (%q) while pool %s has room", i, n.EntityID, j.Labels, n.Note, p.Name)
			}
		}
		// Idempotent: deciding again once the creates are applied changes nothing.
		if again := Decide(apply(s, d)); len(again.Creates) != 0 || len(again.Deletes) != 0 {
			t.Fatalf("not idempotent:\nfirst  %+v\nsecond %+v", summarize(d), summarize(again))
		}
		// Fairness bound: a tenant that got a create held, before its last
		// one, no more machines per weight than a tenant left waiting holds.
		// Only smallest waiting jobs count (unsized, with no pool flavor
		// making unsized machines bigger): a bigger job may wait while
		// smaller ones use what is left (work-conserving wins).
		flavored := slices.ContainsFunc(s.Pools, func(p core.Pool) bool { return p.Flavor != "" })
		weight := func(name string) int {
			for _, tn := range s.Tenants {
				if tn.Name == name {
					return tn.Weight
				}
			}
			return 1
		}
		got := map[string]bool{}
		for _, c := range d.Creates {
			ent := c.EntityID
			if ent == "" {
				ent = poolByID[c.PoolID].EntityID
			}
			if c.Reason == core.CreateForJob {
				got[tenantName(ent)] = true
			}
		}
		for _, n := range d.Jobs {
			if flavored || n.Note == "" || strings.HasPrefix(n.Note, "tenant ") || len(jobByKey(s.Jobs, n.EntityID, n.JobID).Labels) > 1 {
				continue
			}
			x := tenantName(n.EntityID)
			for y := range got {
				my, mx := after["tenant:"+y].machines, after["tenant:"+x].machines
				if (my-1)*weight(x) > mx*weight(y) {
					t.Fatalf("tenant %s waits holding %d (weight %d) while %s got up to %d (weight %d)",
						x, mx, weight(x), y, my, weight(y))
				}
			}
		}
	})
}

func jobByKey(jobs []core.Job, e string, id int64) core.Job {
	for _, j := range jobs {
		if j.EntityID == e && j.ID == id {
			return j
		}
	}
	return core.Job{}
}

package scheduler

import (
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

func shared(entities []string, tenants ...string) poolOpt {
	return func(p *core.Pool) { p.Entities, p.Tenants = entities, tenants }
}
func provider(name string) poolOpt { return func(p *core.Pool) { p.Provider = name } }
func boundTo(e string) instOpt     { return func(in *core.Instance) { in.EntityID = e } }
func cpus(n int) instOpt           { return func(in *core.Instance) { in.CPU = n } }

func jobOf(e string, id int64, lbls ...string) core.Job {
	j := mkJob(id, lbls...)
	j.EntityID = e
	return j
}

func busyInst(name, pool string, opts ...instOpt) core.Instance {
	return mkInst(name, pool, core.InstanceRunning, core.RunnerActive, time.Minute, opts...)
}

func tenant(name string, weight int, entities ...string) core.Tenant {
	return core.Tenant{ID: "t-" + name, Name: name, Weight: weight, Entities: entities}
}

func withQuota(t core.Tenant, machines, vcpu int) core.Tenant {
	t.MaxMachines, t.MaxVCPU = machines, vcpu
	return t
}

func TestSharedPools(t *testing.T) {
	runCases(t, []decideCase{{
		name: "a pool listing entities serves their jobs; others still do not match",
		snap: Snapshot{
			Pools: []core.Pool{mkPool("p", shared([]string{"other"}))},
			Jobs:  []core.Job{jobOf("other", 1, "linux"), jobOf("stranger", 2, "linux")},
		},
		want: summary{Creates: []string{"p//job"}, Notes: []string{
			"1>p", "2>: no enabled pool of this entity matches labels [linux]"}},
		check: func(t *testing.T, d Decision) {
			if d.Creates[0].EntityID != "other" {
				t.Errorf("create bound to %q, want the job's entity other", d.Creates[0].EntityID)
			}
		},
	}, {
		name: "a pool listing a tenant serves every entity of it, on any forge",
		snap: Snapshot{
			Pools:   []core.Pool{mkPool("p", shared(nil, "libfoo"))},
			Tenants: []core.Tenant{tenant("libfoo", 1, "gh-libfoo", "fj-libfoo")},
			Jobs:    []core.Job{jobOf("gh-libfoo", 1, "linux"), jobOf("fj-libfoo", 2, "linux"), jobOf("x", 3, "linux")},
		},
		want: summary{Creates: []string{"p//job", "p//job"}, Notes: []string{
			"1>p", "2>p", "3>: no enabled pool of this entity matches labels [linux]"}},
	}, {
		name: "a pool open to all tenants serves any entity; the default tenant only the tenantless",
		snap: Snapshot{
			Pools: []core.Pool{mkPool("all", shared(nil, core.AllTenants), labels("big")),
				mkPool("dflt", shared(nil, core.DefaultTenant))},
			Tenants: []core.Tenant{tenant("libfoo", 1, "foo")},
			Jobs: []core.Job{jobOf("foo", 1, "big"), jobOf("anyone", 2, "big"),
				jobOf("anyone", 3, "linux"), jobOf("foo", 4, "linux")},
		},
		want: summary{Creates: []string{"all//job", "all//job", "dflt//job"}, Notes: []string{
			"1>all", "2>all", "3>dflt", "4>: no enabled pool of this entity matches labels [linux]"}},
	}, {
		name: "a warm machine of the home entity does not take another entity's job",
		snap: Snapshot{
			Pools:     []core.Pool{mkPool("p", shared([]string{"other"}), minIdle(1))},
			Instances: []core.Instance{idleInst("warm", "p", time.Minute)},
			Jobs:      []core.Job{jobOf("other", 1, "linux")},
		},
		want: summary{Creates: []string{"p//job"}, Notes: []string{"1>p"}},
	}, {
		name: "a machine bound to another entity serves that entity's next job",
		snap: Snapshot{
			Pools:     []core.Pool{mkPool("p", shared([]string{"other"}))},
			Instances: []core.Instance{mkInst("m", "p", core.InstancePendingCreate, core.RunnerPending, 0, boundTo("other"))},
			Jobs:      []core.Job{jobOf("other", 1, "linux")},
		},
		want: summary{Notes: []string{"1>p"}},
	}})
}

func TestTenantQuotas(t *testing.T) {
	foo := func(machines, vcpu int) []core.Tenant {
		return []core.Tenant{withQuota(tenant("libfoo", 1, "foo"), machines, vcpu)}
	}
	pool := mkPool("p", shared(nil, core.AllTenants), sizes(16, 64, 0))
	held := []core.Instance{busyInst("b1", "p", boundTo("foo"), cpus(2)), busyInst("b2", "p", boundTo("foo"), cpus(2))}
	runCases(t, []decideCase{{
		name: "at max_machines the job waits with the tenant's note",
		snap: Snapshot{Pools: []core.Pool{pool}, Tenants: foo(2, 0), Instances: held,
			Jobs: []core.Job{jobOf("foo", 1, "linux"), jobOf("bar", 2, "linux")}},
		want: summary{Creates: []string{"p//job"}, Notes: []string{
			`1>p: tenant "libfoo" at quota (max_machines 2)`, "2>p"}},
	}, {
		name: "raising the quota releases it",
		snap: Snapshot{Pools: []core.Pool{pool}, Tenants: foo(3, 0), Instances: held,
			Jobs: []core.Job{jobOf("foo", 1, "linux")}},
		want: summary{Creates: []string{"p//job"}, Notes: []string{"1>p"}},
	}, {
		name: "max_vcpu counts the sizes jobs ask for",
		snap: Snapshot{Pools: []core.Pool{pool}, Tenants: foo(0, 9), Instances: held,
			Jobs: []core.Job{jobOf("foo", 1, "linux", "4cpu-8gb"), jobOf("foo", 2, "linux", "8cpu-8gb")}},
		want: summary{Creates: []string{"p/4cpu-8gb/job"}, Notes: []string{
			"1>p", `2>p: tenant "libfoo" at quota (max_vcpu 9)`}},
	}})
}

func TestProviderCapacity(t *testing.T) {
	pool := mkPool("p", provider("lxd"), sizes(16, 64, 0), minIdle(3), flavor("2cpu-2gb"))
	runCases(t, []decideCase{{
		name: "sized creates stop at the provider's vCPU",
		snap: Snapshot{Pools: []core.Pool{pool}, Capacity: map[string]Capacity{"lxd": {VCPU: 9}},
			Jobs: []core.Job{mkJob(1, "linux", "4cpu-4gb"), mkJob(2, "linux", "4cpu-4gb"), mkJob(3, "linux", "4cpu-4gb")}},
		want: summary{Creates: []string{"p/4cpu-4gb/job", "p/4cpu-4gb/job"}, Notes: []string{
			"1>p", "2>p", `3>p: provider "lxd" at capacity (vcpu 9)`}},
	}, {
		name: "idle targets stop at the provider's machines and memory too",
		snap: Snapshot{Pools: []core.Pool{pool}, Capacity: map[string]Capacity{"lxd": {MemoryMB: 5000}}},
		want: summary{Creates: []string{"p//min_idle", "p//min_idle"}},
	}, {
		name: "deleted machines hold no capacity",
		snap: Snapshot{Pools: []core.Pool{mkPool("p", provider("lxd"))}, Capacity: map[string]Capacity{"lxd": {MaxMachines: 1}},
			Instances: []core.Instance{mkInst("d", "p", core.InstanceDeleted, core.RunnerDone, time.Minute)},
			Jobs:      []core.Job{mkJob(1, "linux"), mkJob(2, "linux")}},
		want: summary{Creates: []string{"p//job"}, Notes: []string{
			"1>p", `2>p: provider "lxd" at capacity (max_machines 1)`}},
	}})
}

func TestFairShare(t *testing.T) {
	pool := mkPool("p", shared(nil, core.AllTenants), maxRunners(4))
	var burst []core.Job
	for i := range 500 {
		burst = append(burst, jobOf("a", int64(i+1), "linux"))
	}
	late := []core.Job{jobOf("b", 1001, "linux"), jobOf("c", 1002, "linux")}
	s := Snapshot{Now: now, Pools: []core.Pool{pool},
		Tenants: []core.Tenant{tenant("A", 1, "a"), tenant("B", 1, "b"), tenant("C", 1, "c")},
		Jobs:    append(burst, late...)}
	d := Decide(s)
	per := map[string]int{}
	for _, c := range d.Creates {
		per[c.EntityID]++
	}
	if per["a"] != 2 || per["b"] != 1 || per["c"] != 1 {
		t.Fatalf("creates per entity %v, want a:2 b:1 c:1 (500 queued first must not starve 1)", per)
	}
	// Order within a tenant stays FIFO: A's first two jobs are the served ones.
	for _, n := range d.Jobs {
		if n.EntityID == "a" && (n.JobID <= 2) != (n.Note == "") {
			t.Fatalf("job a/%d: note %q; A's earliest jobs must be served first", n.JobID, n.Note)
		}
	}

	// Weights: with A weighted 3 and machines held counting, A gets three
	// quarters of the free slots.
	s.Tenants[0].Weight = 3
	s.Jobs = append(burst[:10:10], jobOf("b", 1001, "linux"), jobOf("b", 1002, "linux"))
	s.Tenants = s.Tenants[:2]
	s.Pools[0].MaxRunners = 8
	per = map[string]int{}
	for _, c := range Decide(s).Creates {
		per[c.EntityID]++
	}
	if per["a"] != 6 || per["b"] != 2 {
		t.Fatalf("weighted creates %v, want a:6 b:2", per)
	}

	// Held machines count: A holding the pool's three busy machines, B's job
	// takes the next free slot even though A queued first.
	s.Pools[0].MaxRunners = 4
	s.Instances = []core.Instance{busyInst("a1", "p", boundTo("a")), busyInst("a2", "p", boundTo("a")), busyInst("a3", "p", boundTo("a"))}
	s.Tenants[0].Weight = 1
	d = Decide(s)
	if len(d.Creates) != 1 || d.Creates[0].EntityID != "b" {
		t.Fatalf("creates %+v, want one for b", d.Creates)
	}
	for _, n := range d.Jobs {
		if n.EntityID == "a" && !strings.Contains(n.Note, "max_runners") {
			t.Fatalf("job a/%d: note %q, want the pool's max_runners note", n.JobID, n.Note)
		}
	}
}

func TestTenantBudget(t *testing.T) {
	budget := func(minutes int, mode core.BudgetMode) []core.Tenant {
		tn := tenant("libfoo", 1, "foo")
		tn.BudgetMinutes, tn.BudgetMode = minutes, mode
		return []core.Tenant{tn}
	}
	pool := mkPool("p", shared(nil, core.AllTenants))
	jobs := []core.Job{jobOf("foo", 1, "linux"), jobOf("bar", 2, "linux")}
	runCases(t, []decideCase{{
		name: "over a hard budget the tenant's job waits; others run",
		snap: Snapshot{Pools: []core.Pool{pool}, Tenants: budget(600, core.BudgetHard), Jobs: jobs,
			BudgetUsed: map[string]float64{"libfoo": 612.4}},
		want: summary{Creates: []string{"p//job"}, Notes: []string{
			`1>p: tenant "libfoo" over its monthly budget (612 of 600 machine-minutes)`, "2>p"}},
	}, {
		name: "under the budget it runs",
		snap: Snapshot{Pools: []core.Pool{pool}, Tenants: budget(600, core.BudgetHard), Jobs: jobs,
			BudgetUsed: map[string]float64{"libfoo": 599.9}},
		want: summary{Creates: []string{"p//job", "p//job"}, Notes: []string{"1>p", "2>p"}},
	}, {
		name: "over a soft budget it runs, with a warning",
		snap: Snapshot{Pools: []core.Pool{pool}, Tenants: budget(600, core.BudgetSoft), Jobs: jobs,
			BudgetUsed: map[string]float64{"libfoo": 700}},
		want: summary{Creates: []string{"p//job", "p//job"}, Notes: []string{"1>p", "2>p"}},
		check: func(t *testing.T, d Decision) {
			if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], `tenant "libfoo" over its monthly budget (700 of 600 machine-minutes)`) {
				t.Errorf("warnings = %q", d.Warnings)
			}
		},
	}})
}

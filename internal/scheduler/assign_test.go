package scheduler

import (
	"reflect"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

func unbound() instOpt { return func(in *core.Instance) { in.Unbound = true } }
func boundJob(e string, id int64) instOpt {
	return func(in *core.Instance) { in.Unbound, in.EntityID, in.BoundJobID = true, e, id }
}

// waiter is a warm machine of a shared pool, booted and waiting unbound.
func waiter(name, pool string, age time.Duration, opts ...instOpt) core.Instance {
	return mkInst(name, pool, core.InstanceRunning, core.RunnerInstalling, age, append([]instOpt{unbound()}, opts...)...)
}

func TestAssign(t *testing.T) {
	sharedPool := mkPool("warm", entity("home"), shared(nil, core.AllTenants))
	cases := []struct {
		name    string
		pools   []core.Pool
		tenants []core.Tenant
		insts   []core.Instance
		jobs    []core.Job
		want    []Assignment
		budget  map[string]float64
	}{
		{name: "job of another entity takes the oldest waiting machine",
			pools: []core.Pool{sharedPool},
			insts: []core.Instance{waiter("w2", "warm", time.Minute), waiter("w1", "warm", 2*time.Minute)},
			jobs:  []core.Job{jobOf("b", 7, "linux")},
			want:  []Assignment{{InstanceName: "w1", EntityID: "b", JobID: 7}}},
		{name: "one machine per job and one job per machine, FIFO",
			pools: []core.Pool{sharedPool},
			insts: []core.Instance{waiter("w1", "warm", 2*time.Minute)},
			jobs:  []core.Job{jobOf("b", 9, "linux"), jobOf("b", 8, "linux")},
			want:  []Assignment{{InstanceName: "w1", EntityID: "b", JobID: 8}}},
		{name: "labels the pool lacks are not served",
			pools: []core.Pool{sharedPool},
			insts: []core.Instance{waiter("w1", "warm", time.Minute)},
			jobs:  []core.Job{jobOf("b", 1, "gpu")}},
		{name: "a sized job needs a machine of that size",
			pools: []core.Pool{mkPool("warm", entity("home"), shared(nil, core.AllTenants), sizes(16, 64, 200))},
			insts: []core.Instance{waiter("w1", "warm", time.Minute)},
			jobs:  []core.Job{jobOf("b", 1, "linux", "4cpu-16gb"), jobOf("b", 2, "linux")},
			want:  []Assignment{{InstanceName: "w1", EntityID: "b", JobID: 2}}},
		{name: "entity the pool does not serve",
			pools: []core.Pool{mkPool("warm", entity("home"), shared([]string{"a"}))},
			insts: []core.Instance{waiter("w1", "warm", time.Minute)},
			jobs:  []core.Job{jobOf("b", 1, "linux")}},
		{name: "a machine ever bound is never bound again, and its job is not given a second one",
			pools: []core.Pool{sharedPool},
			insts: []core.Instance{
				mkInst("old", "warm", core.InstanceRunning, core.RunnerInstalling, 3*time.Minute, boundJob("b", 1)),
				waiter("w1", "warm", time.Minute)},
			jobs: []core.Job{jobOf("b", 1, "linux")}},
		{name: "a spent token or a machine made bound is not waiting",
			pools: []core.Pool{sharedPool},
			insts: []core.Instance{
				mkInst("spent", "warm", core.InstanceRunning, core.RunnerInstalling, 3*time.Minute, unbound(), func(in *core.Instance) { in.TokenUsed = true }),
				mkInst("cold", "warm", core.InstanceRunning, core.RunnerInstalling, 3*time.Minute, boundTo("c")),
				mkInst("gone", "warm", core.InstancePendingDelete, core.RunnerInstalling, 3*time.Minute, unbound())},
			jobs: []core.Job{jobOf("b", 1, "linux")}},
		{name: "fair share: the tenant holding fewer machines goes first",
			pools:   []core.Pool{sharedPool},
			tenants: []core.Tenant{tenant("big", 1, "a"), tenant("small", 1, "b")},
			insts:   []core.Instance{waiter("w1", "warm", time.Minute), busyInst("x", "warm", boundTo("a"))},
			jobs:    []core.Job{jobOf("a", 1, "linux"), jobOf("a", 2, "linux"), jobOf("b", 3, "linux")},
			want:    []Assignment{{InstanceName: "w1", EntityID: "b", JobID: 3}}},
		{name: "a tenant at max_machines waits; another tenant takes the machine",
			pools:   []core.Pool{sharedPool},
			tenants: []core.Tenant{withQuota(tenant("capped", 1, "a"), 1, 0), tenant("free", 5, "b")},
			insts:   []core.Instance{waiter("w1", "warm", time.Minute), busyInst("x", "warm", boundTo("a"))},
			jobs:    []core.Job{jobOf("a", 1, "linux"), jobOf("b", 2, "linux")},
			want:    []Assignment{{InstanceName: "w1", EntityID: "b", JobID: 2}}},
		{name: "a tenant over its hard budget waits; another tenant takes the machine",
			pools: []core.Pool{sharedPool},
			tenants: []core.Tenant{func() core.Tenant {
				t := tenant("broke", 1, "a") // sorts first: fair share would pick it
				t.BudgetMinutes, t.BudgetMode = 10, core.BudgetHard
				return t
			}(), tenant("free", 1, "b")},
			budget: map[string]float64{"broke": 10},
			insts:  []core.Instance{waiter("w1", "warm", time.Minute)},
			jobs:   []core.Job{jobOf("a", 1, "linux"), jobOf("b", 2, "linux")},
			want:   []Assignment{{InstanceName: "w1", EntityID: "b", JobID: 2}}},
		{name: "in-progress jobs are not assigned",
			pools: []core.Pool{sharedPool},
			insts: []core.Instance{waiter("w1", "warm", time.Minute)},
			jobs:  []core.Job{func() core.Job { j := jobOf("b", 1, "linux"); j.State = core.JobInProgress; return j }()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Assign(Snapshot{Now: now, Pools: tc.pools, Instances: tc.insts, Jobs: tc.jobs, Tenants: tc.tenants, BudgetUsed: tc.budget})
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Assign = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// A warm machine waiting unbound has booted (it reported installing) and
// waits for a job without a bootstrap clock; once bound, its clock starts at
// the binding.
func TestWaitingMachineBootstrapClock(t *testing.T) {
	p := mkPool("warm", entity("home"), shared(nil, core.AllTenants), minIdle(1), bootstrap(10*time.Minute))
	waiting := waiter("w1", "warm", time.Hour)
	d := Decide(Snapshot{Now: now, Pools: []core.Pool{p}, Instances: []core.Instance{waiting}})
	if len(d.Deletes) != 0 || len(d.Creates) != 0 {
		t.Fatalf("waiting machine: decision %+v, want nothing", d)
	}
	bound := waiter("w1", "warm", time.Hour, func(in *core.Instance) { in.EntityID, in.BoundJobID, in.BoundAt = "b", 1, now.Add(-time.Minute) })
	d = Decide(Snapshot{Now: now, Pools: []core.Pool{p}, Instances: []core.Instance{bound}})
	if len(d.Deletes) != 0 {
		t.Fatalf("just bound: deletes %+v, want none", d.Deletes)
	}
	bound.BoundAt = now.Add(-11 * time.Minute)
	d = Decide(Snapshot{Now: now, Pools: []core.Pool{p}, Instances: []core.Instance{bound}})
	if len(d.Deletes) != 1 || d.Deletes[0].Reason != core.DeleteBootstrapTimeout {
		t.Fatalf("bound 11 min ago: deletes %+v, want a bootstrap timeout", d.Deletes)
	}
	never := mkInst("w2", "warm", core.InstanceRunning, core.RunnerPending, time.Hour, unbound())
	d = Decide(Snapshot{Now: now, Pools: []core.Pool{p}, Instances: []core.Instance{never}})
	if len(d.Deletes) != 1 {
		t.Fatalf("unbound machine that never booted: deletes %+v, want a bootstrap timeout", d.Deletes)
	}
}

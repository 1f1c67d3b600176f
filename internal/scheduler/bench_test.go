package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// benchSnapshot is a large installation: 50 pools over 5 entities, 2,000
// machines in every state and 1,000 queued jobs, some sized, some unmatched.
func benchSnapshot() Snapshot {
	s := Snapshot{Now: now, IdleGrace: 5 * time.Minute, MaxCreateAttempts: 3}
	for i := range 50 {
		s.Pools = append(s.Pools, core.Pool{
			ID: fmt.Sprintf("pool-%02d", i), Name: fmt.Sprintf("pool-%02d", i), EntityID: fmt.Sprintf("e%d", i%5),
			Labels: []string{"linux", fmt.Sprintf("arch%d", i%3)}, MinIdle: i % 4, MaxRunners: 60,
			FreeTargetPercent: 20, Priority: i % 7, BootstrapTimeout: 10 * time.Minute,
			MaxJobRuntime: 2 * time.Hour, Sizes: &core.SizeLimits{MaxCPU: 16, MaxMemoryGB: 64},
			Enabled: i%10 != 9,
		})
	}
	states := []core.InstanceState{core.InstanceRunning, core.InstanceRunning, core.InstanceRunning,
		core.InstancePendingCreate, core.InstanceCreating, core.InstanceError, core.InstancePendingDelete}
	for i := range 2000 {
		age := time.Duration(i%180) * time.Minute
		s.Instances = append(s.Instances, core.Instance{
			Name: fmt.Sprintf("inst-%04d", i), PoolID: fmt.Sprintf("pool-%02d", i%51), // pool-50 is gone
			State: states[i%len(states)], Runner: core.RunnerStates[i%4], Size: []string{"", "", "small"}[i%3],
			Attempts: 1 + i%4, NextAttemptAt: now.Add(time.Duration(i%20-10) * time.Minute),
			CreatedAt: now.Add(-age), StateSince: now.Add(-age), RunnerSince: now.Add(-age / 2),
		})
	}
	for i := range 1000 {
		lbls := []string{"linux", fmt.Sprintf("arch%d", i%4)} // arch3 matches no pool
		if i%5 == 0 {
			lbls = append(lbls, "4cpu-16gb")
		}
		s.Jobs = append(s.Jobs, core.Job{ID: int64(i), EntityID: fmt.Sprintf("e%d", i%5), Labels: lbls,
			State: core.JobQueued, QueuedAt: now.Add(-time.Duration(i) * time.Second)})
	}
	return s
}

func BenchmarkDecide(b *testing.B) {
	s := benchSnapshot()
	d := Decide(s)
	b.Logf("creates=%d deletes=%d retries=%d notes=%d", len(d.Creates), len(d.Deletes), len(d.Retries), len(d.Jobs))
	b.ReportAllocs()
	for b.Loop() {
		Decide(s)
	}
}

// BenchmarkDecideScale is issue 14's scale target: one decision over 1,000
// pools, 10,000 instances and 10,000 queued jobs (target ≤ 10 ms).
func BenchmarkDecideScale(b *testing.B) {
	s := Synthetic(1000, 10000, 10000, now)
	b.ReportAllocs()
	for b.Loop() {
		Decide(s)
	}
}

// BenchmarkDecideScaleTenants is BenchmarkDecideScale with the sharing
// rules on: the 50 entities in 10 weighted tenants with quotas, a provider
// capacity, so every job goes through fair share, quota and capacity.
func BenchmarkDecideScaleTenants(b *testing.B) {
	s := Synthetic(1000, 10000, 10000, now)
	for t := range 10 {
		tn := core.Tenant{Name: fmt.Sprintf("t%d", t), Weight: 1 + t%3, MaxMachines: 2000, MaxVCPU: 8000}
		for e := t; e < 50; e += 10 {
			tn.Entities = append(tn.Entities, fmt.Sprintf("e%d", e))
		}
		s.Tenants = append(s.Tenants, tn)
	}
	s.Capacity = map[string]Capacity{"": {MaxMachines: 12000, VCPU: 40000}}
	d := Decide(s)
	b.Logf("creates=%d notes=%d", len(d.Creates), len(d.Jobs))
	b.ReportAllocs()
	for b.Loop() {
		Decide(s)
	}
}

package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// Synthetic builds a large, deterministic installation for benchmarks
// (`paddock bench` and BenchmarkDecideScale): pools spread over one entity
// per 20 pools, instances in every state spread over the pools (some of a
// pool that is gone), and queued jobs with a mix of labels, sizes and label
// sets no pool matches. It is not used by Decide.
func Synthetic(pools, instances, jobs int, now time.Time) Snapshot {
	s := Snapshot{Now: now, IdleGrace: 5 * time.Minute, MaxCreateAttempts: 3}
	entities := max(1, pools/20)
	for i := range pools {
		s.Pools = append(s.Pools, core.Pool{
			ID: fmt.Sprintf("pool-%04d", i), Name: fmt.Sprintf("pool-%04d", i), EntityID: fmt.Sprintf("e%d", i%entities),
			Labels: []string{"linux", fmt.Sprintf("arch%d", i%3)}, MinIdle: i % 4, MaxRunners: 60,
			FreeTargetPercent: 20, Priority: i % 7, BootstrapTimeout: 10 * time.Minute,
			MaxJobRuntime: 2 * time.Hour, Sizes: &core.SizeLimits{MaxCPU: 16, MaxMemoryGB: 64},
			Enabled: i%10 != 9,
		})
	}
	states := []core.InstanceState{core.InstanceRunning, core.InstanceRunning, core.InstanceRunning,
		core.InstancePendingCreate, core.InstanceCreating, core.InstanceError, core.InstancePendingDelete}
	for i := range instances {
		age := time.Duration(i%180) * time.Minute
		s.Instances = append(s.Instances, core.Instance{
			Name: fmt.Sprintf("inst-%05d", i), PoolID: fmt.Sprintf("pool-%04d", i%(pools+1)), // the last is gone
			State: states[i%len(states)], Runner: core.RunnerStates[i%4], Size: []string{"", "", "small"}[i%3],
			Attempts: 1 + i%4, NextAttemptAt: now.Add(time.Duration(i%20-10) * time.Minute),
			CreatedAt: now.Add(-age), StateSince: now.Add(-age), RunnerSince: now.Add(-age / 2),
		})
	}
	// In the order the store lists them (created_at, then name).
	slices.SortFunc(s.Instances, func(a, b core.Instance) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := range jobs {
		lbls := []string{"self-hosted", "linux", fmt.Sprintf("arch%d", i%4)} // arch3 matches no pool
		if i%5 == 0 {
			lbls = append(lbls, fmt.Sprintf("%dcpu-16gb", 2+2*(i%3)))
		}
		s.Jobs = append(s.Jobs, core.Job{ID: int64(i + 1), EntityID: fmt.Sprintf("e%d", i%entities), Labels: lbls,
			State: core.JobQueued, QueuedAt: now.Add(-time.Duration(i) * time.Second)})
	}
	return s
}

package scheduler

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"pgregory.net/rapid"
)

var (
	genLabels    = []string{"linux", "x64", "arm64", "gpu"}
	genJobLabels = []string{"linux", "LINUX", "x64", "arm64", "gpu", "self-hosted", "small", "4cpu-16gb", "Medium", "64cpu-1gb"}
	genSizes     = []string{"", "small", "4cpu-16gb", "Medium"}
	genDurations = []time.Duration{0, 5 * time.Minute, time.Hour}
)

func minutesAgo(t *rapid.T, label string, maxMin int) time.Time {
	return now.Add(-time.Duration(rapid.IntRange(0, maxMin).Draw(t, label)) * time.Minute)
}

func genPool(t *rapid.T, i int) core.Pool {
	p := core.Pool{
		ID:                fmt.Sprintf("pid-%d", i),
		Name:              fmt.Sprintf("pool-%d", rapid.IntRange(0, 50).Draw(t, "name")*10+i), // unique, random order
		EntityID:          rapid.SampledFrom([]string{"e1", "e2"}).Draw(t, "entity"),
		Flavor:            rapid.SampledFrom([]string{"", "2cpu-4gb", "m5.large"}).Draw(t, "flavor"),
		Labels:            rapid.SliceOfNDistinct(rapid.SampledFrom(genLabels), 0, 3, rapid.ID[string]).Draw(t, "labels"),
		MinIdle:           rapid.IntRange(0, 3).Draw(t, "min_idle"),
		MaxRunners:        rapid.IntRange(0, 6).Draw(t, "max"),
		FreeTargetPercent: rapid.IntRange(0, 150).Draw(t, "free"),
		Priority:          rapid.IntRange(0, 3).Draw(t, "prio"),
		BootstrapTimeout:  rapid.SampledFrom([]time.Duration{0, 10 * time.Minute, time.Hour}).Draw(t, "boot"),
		MaxJobRuntime:     rapid.SampledFrom([]time.Duration{0, 30 * time.Minute, 2 * time.Hour}).Draw(t, "runtime"),
		Enabled:           rapid.IntRange(0, 4).Draw(t, "enabled") > 0,
	}
	if rapid.Bool().Draw(t, "has_sizes") {
		p.Sizes = &core.SizeLimits{
			MaxCPU:      rapid.IntRange(0, 16).Draw(t, "max_cpu"),
			MaxMemoryGB: rapid.IntRange(0, 64).Draw(t, "max_mem"),
			MaxDiskGB:   rapid.IntRange(0, 200).Draw(t, "max_disk"),
		}
	}
	return p
}

func genInstance(t *rapid.T, i int, poolIDs []string) core.Instance {
	states := []core.InstanceState{core.InstancePendingCreate, core.InstanceCreating, core.InstanceRunning,
		core.InstancePendingDelete, core.InstanceDeleting, core.InstanceError}
	created := minutesAgo(t, "created", 240)
	between := func(label string) time.Time {
		return created.Add(time.Duration(rapid.IntRange(0, int(now.Sub(created)/time.Minute)).Draw(t, label)) * time.Minute)
	}
	in := core.Instance{
		Name:          fmt.Sprintf("inst-%03d", i),
		PoolID:        rapid.SampledFrom(append(slices.Clone(poolIDs), "gone")).Draw(t, "pool"),
		State:         rapid.SampledFrom(states).Draw(t, "state"),
		Runner:        rapid.SampledFrom(core.RunnerStates).Draw(t, "runner"),
		Size:          rapid.SampledFrom(genSizes).Draw(t, "size"),
		CreatedAt:     created,
		StateSince:    between("state_since"),
		RunnerSince:   between("runner_since"),
		NextAttemptAt: now.Add(time.Duration(rapid.IntRange(-30, 30).Draw(t, "next")) * time.Minute),
	}
	in.ID = in.Name
	if in.State == core.InstanceError {
		in.Attempts = rapid.IntRange(1, 4).Draw(t, "attempts") // Attempts counts failed creates
	} else {
		in.Attempts = rapid.IntRange(0, 2).Draw(t, "attempts")
	}
	return in
}

func genSnapshot(t *rapid.T) Snapshot {
	s := Snapshot{
		Now:               now,
		IdleGrace:         rapid.SampledFrom(genDurations).Draw(t, "grace"),
		MaxCreateAttempts: rapid.IntRange(0, 4).Draw(t, "max_attempts"),
	}
	var ids []string
	for i := range rapid.IntRange(0, 4).Draw(t, "pools") {
		p := genPool(t, i)
		s.Pools = append(s.Pools, p)
		ids = append(ids, p.ID)
		if f := rapid.IntRange(0, 3).Draw(t, "failures"); f > 0 {
			if s.Health == nil {
				s.Health = map[string]PoolHealth{}
			}
			next := now.Add(time.Duration(rapid.IntRange(-5, 5).Draw(t, "next_create")) * time.Second)
			s.Health[p.ID] = PoolHealth{Failures: f, NextCreateAt: next, LastError: "boom"}
		}
	}
	for i := range rapid.IntRange(0, 15).Draw(t, "instances") {
		s.Instances = append(s.Instances, genInstance(t, i, ids))
	}
	for i := range rapid.IntRange(0, 10).Draw(t, "jobs") {
		s.Jobs = append(s.Jobs, core.Job{
			ID:       int64(i + 1),
			EntityID: rapid.SampledFrom([]string{"e1", "e2", "e3"}).Draw(t, "job_entity"),
			Labels:   rapid.SliceOfN(rapid.SampledFrom(genJobLabels), 0, 3).Draw(t, "job_labels"),
			State:    core.JobQueued,
			QueuedAt: minutesAgo(t, "queued", 60),
		})
	}
	return s
}

func TestDecideProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genSnapshot(t)
		d := Decide(s)

		live := map[string]int{}
		byName := map[string]core.Instance{}
		for _, in := range s.Instances {
			live[in.PoolID]++
			byName[in.Name] = in
		}
		// (a) max_runners holds whenever it held before.
		creates := map[string]int{}
		for _, c := range d.Creates {
			creates[c.PoolID]++
		}
		for _, p := range s.Pools {
			if live[p.ID] <= p.MaxRunners && live[p.ID]+creates[p.ID] > p.MaxRunners {
				t.Fatalf("pool %s: live %d + creates %d > max %d", p.ID, live[p.ID], creates[p.ID], p.MaxRunners)
			}
			if !p.Enabled && creates[p.ID] > 0 {
				t.Fatalf("disabled pool %s got creates", p.ID)
			}
		}
		// (b) busy runners are only deleted for max_job_runtime; (c) actions name
		// existing instances, each at most once, never one already being deleted.
		seen := map[string]bool{}
		touch := func(name string) core.Instance {
			in, ok := byName[name]
			if !ok {
				t.Fatalf("action names unknown instance %q", name)
			}
			if seen[name] {
				t.Fatalf("instance %q acted on twice", name)
			}
			seen[name] = true
			if !managed(in.State) {
				t.Fatalf("instance %q in state %s acted on", name, in.State)
			}
			return in
		}
		for _, del := range d.Deletes {
			if in := touch(del.InstanceName); in.Runner == core.RunnerActive && del.Reason != core.DeleteMaxJobRuntime {
				t.Fatalf("busy instance %q deleted for %s", del.InstanceName, del.Reason)
			}
		}
		for _, r := range d.Retries {
			if in := touch(r.InstanceName); in.State != core.InstanceError {
				t.Fatalf("retry of %q in state %s", r.InstanceName, in.State)
			}
		}
		// (d) one note per queued job.
		if len(d.Jobs) != len(s.Jobs) {
			t.Fatalf("%d notes for %d jobs", len(d.Jobs), len(s.Jobs))
		}
		noted := map[string]int{}
		for _, n := range d.Jobs {
			noted[fmt.Sprintf("%s/%d", n.EntityID, n.JobID)]++
		}
		for _, j := range s.Jobs {
			if k := fmt.Sprintf("%s/%d", j.EntityID, j.ID); noted[k] != 1 {
				t.Fatalf("job %s noted %d times", k, noted[k])
			}
		}
		// (g) a failing pool starts no create before its NextCreateAt, none while
		// one is in flight (and not being deleted), and at most one (new machine
		// or retry) otherwise.
		calls := maps.Clone(creates)
		inflight := map[string]int{}
		deleted := map[string]bool{}
		for _, del := range d.Deletes {
			deleted[del.InstanceName] = true
		}
		for _, in := range s.Instances {
			if (in.State == core.InstancePendingCreate || in.State == core.InstanceCreating) && !deleted[in.Name] {
				inflight[in.PoolID]++
			}
		}
		for _, r := range d.Retries {
			calls[byName[r.InstanceName].PoolID]++
		}
		for id, h := range s.Health {
			limit := 1
			if s.Now.Before(h.NextCreateAt) || inflight[id] > 0 {
				limit = 0
			}
			if calls[id] > limit {
				t.Fatalf("failing pool %s (%+v, %d in flight): %d creates and retries, want at most %d", id, h, inflight[id], calls[id], limit)
			}
		}
		if !d.NextWake.IsZero() && !d.NextWake.After(s.Now) {
			t.Fatalf("NextWake %v not after Now", d.NextWake)
		}
		// (e) idempotence.
		if again := Decide(apply(s, d)); len(again.Creates) != 0 || len(again.Deletes) != 0 {
			t.Fatalf("not idempotent:\nfirst  %+v\nsecond %+v", summarize(d), summarize(again))
		}
		// (f) determinism, also when the input lists come in another order.
		if again := Decide(s); !reflect.DeepEqual(again, d) {
			t.Fatalf("same input, different output")
		}
		shuffled := s
		shuffled.Pools = permute(t, "pool_perm", s.Pools)
		shuffled.Instances = permute(t, "inst_perm", s.Instances)
		shuffled.Jobs = permute(t, "job_perm", s.Jobs)
		if again := Decide(shuffled); !reflect.DeepEqual(again, d) {
			t.Fatalf("input order changed the output:\n%+v\n%+v", summarize(d), summarize(again))
		}
	})
}

func permute[T any](t *rapid.T, label string, in []T) []T {
	out := slices.Clone(in)
	for i := len(out) - 1; i > 0; i-- {
		j := rapid.IntRange(0, i).Draw(t, label)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

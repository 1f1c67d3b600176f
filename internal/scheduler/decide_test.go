package scheduler

import (
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

const (
	run    = core.InstanceRunning
	pend   = core.InstancePendingCreate
	errSt  = core.InstanceError
	rIdle  = core.RunnerIdle
	rPend  = core.RunnerPending
	rInst  = core.RunnerInstalling
	active = core.RunnerActive
)

func TestDecideIdleTargets(t *testing.T) {
	runCases(t, []decideCase{
		{name: "empty", snap: Snapshot{}},
		{
			name: "min_idle from nothing",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(2))}},
			want: summary{Creates: []string{"a//min_idle", "a//min_idle"}},
		},
		{
			name: "min_idle met by idle and pending machines",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(2))}, Instances: []core.Instance{
				idleInst("i1", "a", time.Hour), mkInst("i2", "a", pend, rPend, 0),
			}},
		},
		{
			name: "installing and creating count as available",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(2))}, Instances: []core.Instance{
				mkInst("i1", "a", run, rInst, 0), mkInst("i2", "a", core.InstanceCreating, rPend, 0),
			}},
		},
		{
			name: "min_idle capped by max_runners",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(5), maxRunners(3))}, Instances: []core.Instance{
				mkInst("busy", "a", run, active, time.Minute),
			}},
			want: summary{Creates: []string{"a//min_idle", "a//min_idle"}},
		},
		{
			name: "free_target rounds up and wins over min_idle",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(1), freeTarget(50))}, Instances: []core.Instance{
				mkInst("b1", "a", run, active, 0), mkInst("b2", "a", run, active, 0), mkInst("b3", "a", run, active, 0),
			}},
			want: summary{Creates: []string{"a//free_target", "a//free_target"}},
		},
		{
			name: "min_idle wins over smaller free_target",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(3), freeTarget(10))}, Instances: []core.Instance{
				mkInst("b1", "a", run, active, 0),
			}},
			want: summary{Creates: []string{"a//min_idle", "a//min_idle", "a//min_idle"}},
		},
		{
			name: "live over max_runners creates nothing",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(2), maxRunners(1))}, Instances: []core.Instance{
				mkInst("b1", "a", run, active, 0), mkInst("b2", "a", run, active, 0),
			}},
		},
		{
			name: "instances being deleted hold capacity but are never deleted again",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(2), maxRunners(2))}, Instances: []core.Instance{
				mkInst("d1", "a", core.InstancePendingDelete, rIdle, time.Hour),
				mkInst("d2", "a", core.InstanceDeleting, rIdle, time.Hour),
			}},
		},
		{
			name: "creates come out in pool name order",
			snap: Snapshot{Pools: []core.Pool{mkPool("z", minIdle(1)), mkPool("m", minIdle(1)), mkPool("b", minIdle(1))}},
			want: summary{Creates: []string{"b//min_idle", "m//min_idle", "z//min_idle"}},
		},
	})
}

func TestDecideJobs(t *testing.T) {
	twoPools := func(opts ...poolOpt) []core.Pool {
		return []core.Pool{mkPool("low", maxRunners(2)), mkPool("high", append([]poolOpt{priority(9)}, opts...)...)}
	}
	runCases(t, []decideCase{
		{
			name: "job creates a machine",
			snap: Snapshot{Pools: []core.Pool{mkPool("a")}, Jobs: []core.Job{mkJob(1, "linux")}},
			want: summary{Creates: []string{"a//job"}, Notes: []string{"1>a"}},
		},
		{
			name: "job takes an idle machine",
			snap: Snapshot{Pools: []core.Pool{mkPool("a")}, Jobs: []core.Job{mkJob(1, "linux")},
				Instances: []core.Instance{idleInst("i1", "a", time.Hour)}},
			want: summary{Notes: []string{"1>a"}},
		},
		{
			name: "job plus min_idle",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(1))}, Jobs: []core.Job{mkJob(1, "linux")},
				Instances: []core.Instance{idleInst("i1", "a", time.Hour)}},
			want: summary{Creates: []string{"a//min_idle"}, Notes: []string{"1>a"}},
		},
		{
			name: "higher priority pool wins",
			snap: Snapshot{Pools: twoPools(), Jobs: []core.Job{mkJob(1, "linux")}},
			want: summary{Creates: []string{"high//job"}, Notes: []string{"1>high"}},
		},
		{
			name: "the best pool with room wins over an idle machine in a lower priority pool",
			snap: Snapshot{IdleGrace: time.Hour, Pools: twoPools(), Jobs: []core.Job{mkJob(1, "linux")},
				Instances: []core.Instance{idleInst("l1", "low", time.Minute)}},
			want: summary{Creates: []string{"high//job"}, Notes: []string{"1>high"}},
			wake: now.Add(59 * time.Minute), // l1 is surplus once its grace ends
		},
		{
			name: "idle machines are claimed best pool first",
			snap: Snapshot{Pools: twoPools(), Jobs: []core.Job{mkJob(1, "linux")},
				Instances: []core.Instance{idleInst("l1", "low", time.Minute), idleInst("h1", "high", time.Minute)}},
			want: summary{Deletes: []string{"l1:scale_down"}, Notes: []string{"1>high"}},
		},
		{
			name: "spill-over to the next pool when the best is full",
			snap: Snapshot{Pools: twoPools(maxRunners(1)), Jobs: []core.Job{mkJob(1, "linux"), mkJob(2, "linux"), mkJob(3, "linux")}},
			want: summary{Creates: []string{"high//job", "low//job", "low//job"}, Notes: []string{"1>high", "2>low", "3>low"}},
		},
		{
			name: "everything full: job counts against the best pool with a note",
			snap: Snapshot{Pools: twoPools(maxRunners(1)),
				Jobs: []core.Job{mkJob(1, "linux"), mkJob(2, "linux"), mkJob(3, "linux"), mkJob(4, "linux")}},
			want: summary{Creates: []string{"high//job", "low//job", "low//job"},
				Notes: []string{"1>high", "2>low", "3>low", `4>high: pool "high" at max_runners (1)`}},
		},
		{
			name: "full best pool with an idle machine still takes the job",
			snap: Snapshot{Pools: twoPools(maxRunners(1)), Jobs: []core.Job{mkJob(1, "linux")},
				Instances: []core.Instance{idleInst("h1", "high", time.Hour)}},
			want: summary{Notes: []string{"1>high"}},
		},
		{
			name: "max_runners never exceeded by jobs",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", maxRunners(3), minIdle(2))},
				Jobs:      []core.Job{mkJob(1, "linux"), mkJob(2, "linux"), mkJob(3, "linux")},
				Instances: []core.Instance{mkInst("b1", "a", run, active, 0), mkInst("b2", "a", run, active, 0)}},
			want: summary{Creates: []string{"a//job"}, Notes: []string{"1>a",
				`2>a: pool "a" at max_runners (3)`, `3>a: pool "a" at max_runners (3)`}},
		},
		{
			name: "no pool matches: note lists labels sorted and lower-cased",
			snap: Snapshot{Pools: []core.Pool{mkPool("a")}, Jobs: []core.Job{mkJob(1, "Linux", "GPU")}},
			want: summary{Notes: []string{"1>: no enabled pool of this entity matches labels [gpu linux]"}},
		},
		{
			name: "pool of another entity does not serve the job",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", entity("other"))}, Jobs: []core.Job{mkJob(1, "linux")}},
			want: summary{Notes: []string{"1>: no enabled pool of this entity matches labels [linux]"}},
		},
		{
			name: "case-insensitive labels and implied self-hosted",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", labels("Linux", "X64"))}, Jobs: []core.Job{mkJob(1, "self-hosted", "LINUX", "x64")}},
			want: summary{Creates: []string{"a//job"}, Notes: []string{"1>a"}},
		},
		{
			name: "jobs noted in queue order",
			snap: Snapshot{Pools: []core.Pool{mkPool("a")}, Jobs: []core.Job{mkJob(3, "linux"), mkJob(1, "linux"), mkJob(2, "gpu")}},
			want: summary{Creates: []string{"a//job", "a//job"}, Notes: []string{"1>a",
				"2>: no enabled pool of this entity matches labels [gpu]", "3>a"}},
		},
	})
}

package scheduler

import (
	"reflect"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

func TestDecideSizes(t *testing.T) {
	sizedPool := mkPool("a", sizes(8, 32, 0), flavor("2cpu-4gb"))
	runCases(t, []decideCase{
		{
			name: "sized job gets a machine made for its size",
			snap: Snapshot{Pools: []core.Pool{sizedPool}, Jobs: []core.Job{mkJob(1, "linux", "4CPU-16GB-40gb")},
				Instances: []core.Instance{idleInst("plain", "a", time.Hour)}},
			// The unsized idle machine cannot take it (its runner lacks the label) and is surplus.
			want: summary{Creates: []string{"a/4cpu-16gb-40gb/job"}, Deletes: []string{"plain:scale_down"}, Notes: []string{"1>a"}},
			check: func(t *testing.T, d Decision) {
				want := Create{PoolID: "id-a", Labels: []string{"linux", "4cpu-16gb-40gb"}, Size: "4cpu-16gb-40gb",
					CPU: 4, MemoryMB: 16384, DiskGB: 40, Reason: core.CreateForJob}
				if !reflect.DeepEqual(d.Creates[0], want) {
					t.Errorf("create = %+v, want %+v", d.Creates[0], want)
				}
			},
		},
		{
			name: "sized job takes an idle machine of its size, label compared case-insensitively",
			snap: Snapshot{Pools: []core.Pool{sizedPool}, Jobs: []core.Job{mkJob(1, "linux", "medium")},
				Instances: []core.Instance{idleInst("m1", "a", time.Hour, sized("Medium"))}},
			want: summary{Notes: []string{"1>a"}},
		},
		{
			name: "equivalent size under another label is a different group",
			snap: Snapshot{Pools: []core.Pool{sizedPool}, Jobs: []core.Job{mkJob(1, "linux", "4cpu-16gb")},
				Instances: []core.Instance{mkInst("m1", "a", pend, rPend, 0, sized("medium"))}},
			want: summary{Creates: []string{"a/4cpu-16gb/job"}, Notes: []string{"1>a"}},
		},
		{
			name: "size over the pool's limits matches nothing",
			snap: Snapshot{Pools: []core.Pool{sizedPool}, Jobs: []core.Job{mkJob(1, "linux", "16cpu-16gb")}},
			want: summary{Notes: []string{"1>: no enabled pool of this entity matches labels [16cpu-16gb linux]"}},
		},
		{
			name: "default machines use the pool flavor's resources",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(1), flavor("2CPU-4GB"))}},
			want: summary{Creates: []string{"a//min_idle"}},
			check: func(t *testing.T, d Decision) {
				want := Create{PoolID: "id-a", Labels: []string{"linux"}, CPU: 2, MemoryMB: 4096, Reason: core.CreateMinIdle}
				if !reflect.DeepEqual(d.Creates[0], want) {
					t.Errorf("create = %+v, want %+v", d.Creates[0], want)
				}
			},
		},
		{
			name: "unparsable flavor leaves resources at zero",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(1), flavor("m5.large"))}},
			want: summary{Creates: []string{"a//min_idle"}},
			check: func(t *testing.T, d Decision) {
				if c := d.Creates[0]; c.CPU != 0 || c.MemoryMB != 0 || c.DiskGB != 0 {
					t.Errorf("create = %+v, want zero resources", c)
				}
			},
		},
		{
			name: "min_idle is not met by sized machines; idle sized machine without jobs is scaled down",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(1), sizes(8, 32, 0))},
				Instances: []core.Instance{idleInst("s1", "a", time.Hour, sized("small"))}},
			want: summary{Creates: []string{"a//min_idle"}, Deletes: []string{"s1:scale_down"}},
		},
		{
			name: "sized jobs and default jobs share max_runners in queue order",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", maxRunners(2), sizes(8, 32, 0))},
				Jobs: []core.Job{mkJob(1, "small"), mkJob(2, "linux"), mkJob(3, "large")}},
			want: summary{Creates: []string{"a//job", "a/small/job"}, Notes: []string{"1>a", "2>a",
				`3>a: pool "a" at max_runners (2)`}},
		},
	})
}

func TestDecideScaleDown(t *testing.T) {
	grace := 10 * time.Minute
	runCases(t, []decideCase{
		{
			name: "surplus idle past grace deleted oldest first, younger kept until grace",
			snap: Snapshot{IdleGrace: grace, Pools: []core.Pool{mkPool("a", minIdle(1))}, Instances: []core.Instance{
				idleInst("new", "a", 5*time.Minute), idleInst("old", "a", 3*time.Hour),
				idleInst("mid", "a", 2*time.Hour), idleInst("fresh", "a", time.Hour, runnerSince(time.Minute)),
			}},
			want: summary{Deletes: []string{"old:scale_down", "mid:scale_down"}},
			// "new" is surplus but only idle 5 minutes: wake when its grace ends.
			wake: now.Add(5 * time.Minute),
		},
		{
			name: "grace measured from RunnerSince",
			snap: Snapshot{IdleGrace: grace, Pools: []core.Pool{mkPool("a")}, Instances: []core.Instance{
				idleInst("i1", "a", 3*time.Hour, runnerSince(9*time.Minute)),
				idleInst("i2", "a", 3*time.Hour, runnerSince(10*time.Minute)),
			}},
			want: summary{Deletes: []string{"i2:scale_down"}},
			wake: now.Add(time.Minute),
		},
		{
			name: "pending and installing machines are never scaled down",
			snap: Snapshot{Pools: []core.Pool{mkPool("a")}, Instances: []core.Instance{
				mkInst("p1", "a", pend, rPend, time.Hour), mkInst("p2", "a", run, rInst, time.Hour),
				mkInst("p3", "a", core.InstanceCreating, rIdle, time.Hour),
			}},
		},
		{
			name: "busy machines are never scaled down",
			snap: Snapshot{Pools: []core.Pool{mkPool("a")}, Instances: []core.Instance{
				mkInst("b1", "a", run, active, time.Hour),
			}},
		},
		{
			name: "idle machines wanted by queued jobs stay",
			snap: Snapshot{Pools: []core.Pool{mkPool("a")}, Jobs: []core.Job{mkJob(1, "linux")},
				Instances: []core.Instance{idleInst("i1", "a", time.Hour), idleInst("i2", "a", 2*time.Hour)}},
			want: summary{Deletes: []string{"i2:scale_down"}, Notes: []string{"1>a"}},
		},
		{
			name: "finished and failed runners are deleted",
			snap: Snapshot{Pools: []core.Pool{mkPool("a")}, Instances: []core.Instance{
				mkInst("done", "a", run, core.RunnerDone, time.Hour), mkInst("failed", "a", run, core.RunnerFailed, 2*time.Hour),
			}},
			want: summary{Deletes: []string{"failed:runner_failed", "done:runner_done"}},
		},
	})
}

func TestDecidePoolGoneOrDisabled(t *testing.T) {
	runCases(t, []decideCase{
		{
			name: "disabled pool: idle, booting and error deleted without grace, busy kept, no jobs, no min_idle",
			snap: Snapshot{IdleGrace: time.Hour, MaxCreateAttempts: 5,
				Pools: []core.Pool{mkPool("a", disabled(), minIdle(3))},
				Jobs:  []core.Job{mkJob(1, "linux")},
				Instances: []core.Instance{
					idleInst("idle", "a", time.Minute), mkInst("busy", "a", run, active, time.Minute),
					mkInst("pending", "a", pend, rPend, time.Minute),
					mkInst("installing", "a", run, rInst, time.Minute),
					mkInst("early-idle", "a", core.InstanceCreating, rIdle, time.Minute),
					mkInst("err", "a", errSt, rPend, time.Minute, attempts(1, now.Add(time.Hour))),
				}},
			want: summary{Deletes: []string{"early-idle:pool_disabled", "err:pool_disabled", "idle:pool_disabled",
				"installing:pool_disabled", "pending:pool_disabled"}, // same CreatedAt: by name
				Notes: []string{"1>: no enabled pool of this entity matches labels [linux]"}},
		},
		{
			name: "pool gone: every managed machine not busy is deleted",
			snap: Snapshot{Instances: []core.Instance{
				idleInst("idle", "gone", 4*time.Hour), mkInst("busy", "gone", run, active, 3*time.Hour),
				mkInst("pending", "gone", pend, rPend, 2*time.Hour), mkInst("err", "gone", errSt, rPend, time.Hour),
				mkInst("deleting", "gone", core.InstanceDeleting, rIdle, time.Minute),
			}},
			want: summary{Deletes: []string{"idle:pool_gone", "pending:pool_gone", "err:pool_gone"}},
		},
	})
}

func TestDecideTimeouts(t *testing.T) {
	runCases(t, []decideCase{
		{
			name: "bootstrap timeout deletes and a replacement is made",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(2), bootstrap(10*time.Minute))}, Instances: []core.Instance{
				mkInst("stuck", "a", run, rInst, 11*time.Minute),
				mkInst("booting", "a", core.InstanceCreating, rPend, 4*time.Minute),
			}},
			want: summary{Creates: []string{"a//min_idle"}, Deletes: []string{"stuck:bootstrap_timeout"}},
			wake: now.Add(6*time.Minute + time.Nanosecond),
		},
		{
			name: "bootstrap timeout is measured from CreatedAt and needs longer than the limit",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(1), bootstrap(10*time.Minute))}, Instances: []core.Instance{
				mkInst("edge", "a", run, rInst, 10*time.Minute, func(in *core.Instance) { in.StateSince = now }),
			}},
			wake: now.Add(time.Nanosecond),
		},
		{
			name: "a retried machine gets a fresh bootstrap window from StateSince",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(1), bootstrap(10*time.Minute))}, Instances: []core.Instance{
				mkInst("retried", "a", pend, rPend, time.Hour, attempts(2, now.Add(-time.Minute)),
					func(in *core.Instance) { in.StateSince = now.Add(-time.Minute) }),
			}},
			wake: now.Add(9*time.Minute + time.Nanosecond),
		},
		{
			name: "bootstrap timeout 0 means none",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(1))}, Instances: []core.Instance{
				mkInst("slow", "a", run, rInst, 100*time.Hour),
			}},
		},
		{
			name: "max job runtime deletes a busy machine; others wake the scheduler",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", maxRuntime(time.Hour))}, Instances: []core.Instance{
				mkInst("long", "a", run, active, 5*time.Hour, runnerSince(time.Hour+time.Second)),
				mkInst("ok", "a", run, active, 5*time.Hour, runnerSince(20*time.Minute)),
			}},
			want: summary{Deletes: []string{"long:max_job_runtime"}},
			wake: now.Add(40*time.Minute + time.Nanosecond),
		},
		{
			name: "max job runtime 0 means none",
			snap: Snapshot{Pools: []core.Pool{mkPool("a")}, Instances: []core.Instance{
				mkInst("long", "a", run, active, 500*time.Hour),
			}},
		},
	})
}

func TestDecideErrors(t *testing.T) {
	runCases(t, []decideCase{
		{
			name: "due retry, future retry, exhausted",
			snap: Snapshot{MaxCreateAttempts: 3, Pools: []core.Pool{mkPool("a")}, Instances: []core.Instance{
				mkInst("due", "a", errSt, rPend, time.Hour, attempts(1, now)),
				mkInst("later", "a", errSt, rPend, 2*time.Hour, attempts(2, now.Add(3*time.Minute))),
				mkInst("spent", "a", errSt, core.RunnerFailed, 3*time.Hour, attempts(3, now.Add(-time.Hour))),
			}},
			want: summary{Deletes: []string{"spent:retries_exhausted"}, Retries: []string{"due"}},
			wake: now.Add(3 * time.Minute),
		},
		{
			name: "an error machine awaiting retry is not available: demand creates a replacement",
			snap: Snapshot{MaxCreateAttempts: 3, Pools: []core.Pool{mkPool("a", minIdle(1), maxRunners(2))}, Instances: []core.Instance{
				mkInst("err", "a", errSt, rPend, time.Hour, attempts(1, now.Add(time.Minute))),
			}},
			want: summary{Creates: []string{"a//min_idle"}},
			wake: now.Add(time.Minute),
		},
		{
			name: "a machine retried now counts as available: no duplicate create, idle twin is surplus",
			snap: Snapshot{MaxCreateAttempts: 3, Pools: []core.Pool{mkPool("a", minIdle(1))}, Instances: []core.Instance{
				mkInst("err", "a", errSt, rPend, time.Hour, attempts(1, now)),
				idleInst("idle", "a", 2*time.Hour),
			}},
			want: summary{Deletes: []string{"idle:scale_down"}, Retries: []string{"err"}},
		},
		{
			name: "an error machine holds a max_runners slot",
			snap: Snapshot{MaxCreateAttempts: 3, Pools: []core.Pool{mkPool("a", minIdle(1), maxRunners(1))}, Instances: []core.Instance{
				mkInst("err", "a", errSt, rPend, time.Hour, attempts(1, now.Add(time.Minute))),
			}},
			wake: now.Add(time.Minute),
		},
	})
}

func TestNextWakeIsEarliest(t *testing.T) {
	s := Snapshot{Now: now, IdleGrace: time.Hour, MaxCreateAttempts: 5,
		Pools: []core.Pool{mkPool("a", bootstrap(time.Hour), maxRuntime(time.Hour))},
		Instances: []core.Instance{
			mkInst("boot", "a", pend, rPend, 30*time.Minute),                                  // bootstrap: 30m
			mkInst("job", "a", run, active, time.Hour, runnerSince(50*time.Minute)),           // runtime: 10m
			mkInst("err", "a", errSt, rPend, time.Hour, attempts(1, now.Add(20*time.Minute))), // retry: 20m
			idleInst("idle", "a", 2*time.Hour, runnerSince(55*time.Minute)),                   // grace: 5m
			idleInst("small", "a", 2*time.Hour, runnerSince(59*time.Minute), sized("small")),  // grace: 1m
		}}
	steps := []struct {
		name string
		edit func(*Snapshot)
		want time.Duration
	}{
		{"surplus sized machine", func(*Snapshot) {}, time.Minute},
		{"surplus default machine", func(s *Snapshot) { s.Instances = s.Instances[:4] }, 5 * time.Minute},
		{"idle machine wanted by jobs: runtime limit next", func(s *Snapshot) {
			s.Jobs = []core.Job{mkJob(1, "linux"), mkJob(2, "linux")}
		}, 10*time.Minute + time.Nanosecond},
	}
	for _, st := range steps {
		st.edit(&s)
		d := Decide(s)
		if got, want := d.NextWake, now.Add(st.want); !got.Equal(want) {
			t.Errorf("%s: NextWake = %v, want %v", st.name, got, want)
		}
		if len(d.Creates)+len(d.Deletes)+len(d.Retries) != 0 {
			t.Errorf("%s: unexpected actions %+v", st.name, summarize(d))
		}
	}
}

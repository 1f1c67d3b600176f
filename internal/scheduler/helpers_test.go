package scheduler

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type poolOpt func(*core.Pool)

func mkPool(name string, opts ...poolOpt) core.Pool {
	p := core.Pool{ID: "id-" + name, Name: name, EntityID: "ent", Labels: []string{"linux"}, MaxRunners: 10, Enabled: true}
	for _, o := range opts {
		o(&p)
	}
	return p
}

func maxRunners(n int) poolOpt          { return func(p *core.Pool) { p.MaxRunners = n } }
func minIdle(n int) poolOpt             { return func(p *core.Pool) { p.MinIdle = n } }
func priority(n int) poolOpt            { return func(p *core.Pool) { p.Priority = n } }
func freeTarget(pct int) poolOpt        { return func(p *core.Pool) { p.FreeTargetPercent = pct } }
func labels(l ...string) poolOpt        { return func(p *core.Pool) { p.Labels = l } }
func entity(e string) poolOpt           { return func(p *core.Pool) { p.EntityID = e } }
func flavor(f string) poolOpt           { return func(p *core.Pool) { p.Flavor = f } }
func disabled() poolOpt                 { return func(p *core.Pool) { p.Enabled = false } }
func bootstrap(d time.Duration) poolOpt { return func(p *core.Pool) { p.BootstrapTimeout = d } }
func maxRuntime(d time.Duration) poolOpt {
	return func(p *core.Pool) { p.MaxJobRuntime = d }
}
func sizes(cpu, memGB, diskGB int) poolOpt {
	return func(p *core.Pool) { p.Sizes = &core.SizeLimits{MaxCPU: cpu, MaxMemoryGB: memGB, MaxDiskGB: diskGB} }
}

type instOpt func(*core.Instance)

// mkInst makes an instance created age ago whose state and runner state have
// not changed since.
func mkInst(name, pool string, st core.InstanceState, rs core.RunnerState, age time.Duration, opts ...instOpt) core.Instance {
	t := now.Add(-age)
	in := core.Instance{ID: name, Name: name, PoolID: "id-" + pool, State: st, Runner: rs, CreatedAt: t, StateSince: t, RunnerSince: t}
	for _, o := range opts {
		o(&in)
	}
	return in
}

func idleInst(name, pool string, age time.Duration, opts ...instOpt) core.Instance {
	return mkInst(name, pool, core.InstanceRunning, core.RunnerIdle, age, opts...)
}

func sized(s string) instOpt { return func(in *core.Instance) { in.Size = s } }
func runnerSince(ago time.Duration) instOpt {
	return func(in *core.Instance) { in.RunnerSince = now.Add(-ago) }
}
func attempts(n int, next time.Time) instOpt {
	return func(in *core.Instance) { in.Attempts, in.NextAttemptAt = n, next }
}

// mkJob makes a queued job of entity "ent"; lower ids were queued earlier.
func mkJob(id int64, lbls ...string) core.Job {
	return core.Job{ID: id, EntityID: "ent", Labels: lbls, State: core.JobQueued,
		QueuedAt: now.Add(-time.Hour + time.Duration(id)*time.Second)}
}

// apply plays a Decision the way the controller and store would: creates
// become pending_create instances with a pending runner, deletes become
// pending_delete, retries move back to pending_create; the store stamps
// StateSince/RunnerSince on every change.
func apply(s Snapshot, d Decision) Snapshot {
	out := s
	out.Instances = slices.Clone(s.Instances)
	byName := map[string]int{}
	for i, in := range out.Instances {
		byName[in.Name] = i
	}
	for _, del := range d.Deletes {
		in := &out.Instances[byName[del.InstanceName]]
		in.State, in.StateSince = core.InstancePendingDelete, s.Now
	}
	for _, r := range d.Retries {
		in := &out.Instances[byName[r.InstanceName]]
		in.State, in.StateSince = core.InstancePendingCreate, s.Now
		if in.Runner != core.RunnerPending {
			in.Runner, in.RunnerSince = core.RunnerPending, s.Now
		}
	}
	for _, c := range d.Creates {
		name := fmt.Sprintf("applied-%d", len(out.Instances))
		out.Instances = append(out.Instances, core.Instance{
			ID: name, Name: name, PoolID: c.PoolID, State: core.InstancePendingCreate, Runner: core.RunnerPending,
			Labels: c.Labels, Size: c.Size, CPU: c.CPU, MemoryMB: c.MemoryMB, DiskGB: c.DiskGB, EntityID: c.EntityID,
			CreatedAt: s.Now, StateSince: s.Now, RunnerSince: s.Now,
		})
	}
	return out
}

// summary renders a Decision compactly for table tests.
type summary struct {
	Creates []string // "pool/size/reason"
	Deletes []string // "name:reason"
	Retries []string
	Notes   []string // "jobID>poolID" or "jobID>poolID: note"
}

func summarize(d Decision) summary {
	var s summary
	for _, c := range d.Creates {
		s.Creates = append(s.Creates, fmt.Sprintf("%s/%s/%s", strings.TrimPrefix(c.PoolID, "id-"), c.Size, c.Reason))
	}
	for _, x := range d.Deletes {
		s.Deletes = append(s.Deletes, x.InstanceName+":"+string(x.Reason))
	}
	for _, r := range d.Retries {
		s.Retries = append(s.Retries, r.InstanceName)
	}
	for _, n := range d.Jobs {
		line := fmt.Sprintf("%d>%s", n.JobID, strings.TrimPrefix(n.PoolID, "id-"))
		if n.Note != "" {
			line += ": " + n.Note
		}
		s.Notes = append(s.Notes, line)
	}
	return s
}

type decideCase struct {
	name  string
	snap  Snapshot
	want  summary
	wake  time.Time // expected NextWake (zero = none)
	check func(t *testing.T, d Decision)
}

// runCases runs table cases and, for each, checks idempotence: applying the
// decision and deciding again at the same moment changes nothing.
func runCases(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.snap.Now.IsZero() {
				c.snap.Now = now
			}
			d := Decide(c.snap)
			if got := summarize(d); !reflect.DeepEqual(got, c.want) {
				t.Errorf("decision:\n got %+v\nwant %+v", got, c.want)
			}
			if !d.NextWake.Equal(c.wake) {
				t.Errorf("NextWake = %v, want %v", d.NextWake, c.wake)
			}
			if c.check != nil {
				c.check(t, d)
			}
			again := Decide(apply(c.snap, d))
			if len(again.Creates) != 0 || len(again.Deletes) != 0 {
				t.Errorf("not idempotent: second decision %+v", summarize(again))
			}
		})
	}
}

package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/paddock-ci/paddock/internal/demo"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/scheduler"
)

// withManager starts the simulator and a manager (seeded as asked) in a
// fresh directory under dir, runs fn, and stops both.
func withManager(ctx context.Context, o Options, dir, name string, pools, instances int, jobTime time.Duration, fn func(*manager) error) error {
	sim := forgesim.New(forgesim.Options{})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		return err
	}
	defer sim.Close()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	m, err := startManager(ctx, o.ManagerCommand, d, sim.URL(), pools, instances, jobTime)
	if err != nil {
		return err
	}
	defer m.stop()
	return fn(m)
}

// sendConns is how many webhooks a burst has in flight (as a forge's
// delivery workers would).
const sendConns = 16

func runBursts(ctx context.Context, o Options, dir string, r *Result) error {
	for _, n := range o.Bursts {
		err := withManager(ctx, o, dir, fmt.Sprintf("burst-%d", n), 0, 0, 0, func(m *manager) error {
			s := newSender(m.url, sendConns)
			start := time.Now()
			if err := s.burst(1, n, sendConns); err != nil {
				return err
			}
			lat, err := m.waitDispatches(ctx, 0, n, 2*time.Minute)
			if err != nil {
				return err
			}
			r.Bursts = append(r.Bursts, Burst{Jobs: n, P50Ms: ms(demo.Percentile(lat, 50)),
				P99Ms: ms(demo.Percentile(lat, 99)), WallSec: time.Since(start).Seconds()})
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// sustainedRate is issue 14's target: webhooks a second, of every kind.
// Each job brings three (queued, in_progress, completed), as from GitHub.
const sustainedRate = 500

// sustainedJobTime is how long each machine of the sustained row "runs its
// job"; it keeps the live set at what a real installation would hold.
const sustainedJobTime = time.Second

func runSustained(ctx context.Context, o Options, dir string, r *Result) error {
	d := 10 * time.Second
	if o.Short {
		d = 3 * time.Second
	}
	jobRate := (sustainedRate + 2) / 3 // rounded up: at least the target is offered
	return withManager(ctx, o, dir, "sustained", 0, 0, sustainedJobTime, func(m *manager) error {
		before, err := readProc(m.cmd.Process.Pid)
		if err != nil {
			return err
		}
		s := newSender(m.url, 32)
		lc := newLifecycle(ctx, m, s, sustainedJobTime)
		start := time.Now()
		n, _, err := s.paced(1, jobRate, d, 64)
		if err != nil {
			return err
		}
		if err := lc.wait(n); err != nil {
			return err
		}
		lat := m.settleDispatches(ctx, 2*time.Second)
		if len(lat) < n/2 {
			return fmt.Errorf("only %d of %d jobs got a machine of their own", len(lat), n)
		}
		after, err := readProc(m.cmd.Process.Pid)
		if err != nil {
			return err
		}
		// The rate is counted once all three kinds flow: after the first
		// jobs' machines have run, until the last queued webhook was sent.
		from, to := start.Add(sustainedJobTime+500*time.Millisecond), start.Add(d)
		r.Sustained = &Sustained{OfferedPerSec: sustainedRate, AchievedPerSec: s.answeredBetween(from, to), Jobs: n,
			Created: len(lat),
			P50Ms:   ms(demo.Percentile(lat, 50)), P99Ms: ms(demo.Percentile(lat, 99)),
			CPUSecPer1000: (after.CPU - before.CPU).Seconds() / float64(n) * 1000,
			RSSMiB:        mib(after.RSS), PeakRSSMiB: mib(after.HWM)}
		return nil
	})
}

// Scale: issue 14's installation size.
const (
	scalePools     = 1000
	scaleInstances = 10000
	scaleJobs      = 10000
)

func runScale(ctx context.Context, o Options, dir string, r *Result) error {
	jobs := 1000
	if o.Short {
		jobs = 200
	}
	// The config's pool is one of the 1,000.
	return withManager(ctx, o, dir, "scale", scalePools-1, scaleInstances, 0, func(m *manager) error {
		// Let the start-up reconcile over 10,000 instances pass first.
		time.Sleep(2 * time.Second)
		before, err := readProc(m.cmd.Process.Pid)
		if err != nil {
			return err
		}
		if err := newSender(m.url, sendConns).burst(1, jobs, sendConns); err != nil {
			return err
		}
		lat, err := m.waitDispatches(ctx, 0, jobs, 3*time.Minute)
		if err != nil {
			return err
		}
		after, err := readProc(m.cmd.Process.Pid)
		if err != nil {
			return err
		}
		r.Scale = &Scale{Pools: scalePools, Instances: scaleInstances, Jobs: jobs,
			P50Ms: ms(demo.Percentile(lat, 50)), P99Ms: ms(demo.Percentile(lat, 99)),
			RSSMiB: mib(after.RSS), PeakRSSMiB: mib(after.HWM),
			CPUSecPer1000: (after.CPU - before.CPU).Seconds() / float64(jobs) * 1000}
		return nil
	})
}

func runScheduler(_ context.Context, o Options, _ string, r *Result) error {
	runs := 20
	if o.Short {
		runs = 5
	}
	snap := scheduler.Synthetic(scalePools, scaleInstances, scaleJobs, time.Now())
	scheduler.Decide(snap) // warm up
	var walls []time.Duration
	cpu0 := processCPU()
	for range runs {
		t := time.Now()
		scheduler.Decide(snap)
		walls = append(walls, time.Since(t))
	}
	cpu := (processCPU() - cpu0) / time.Duration(runs)
	r.Scheduler = &Scheduler{Pools: scalePools, Instances: scaleInstances, Jobs: scaleJobs, Runs: runs,
		P50Ms: ms(demo.Percentile(walls, 50)), MaxMs: ms(demo.Percentile(walls, 100)), CPUMs: ms(cpu)}
	return nil
}

// processCPU is this process's CPU time (user+system, all threads: the
// garbage collector's work counts).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// callModes are the forge-call rows: the demo's forge and intake, and the
// per-job target (0: none, reported only).
var callModes = []struct {
	name, forge, intake string
	target              float64
	// jobDuration: how long each job works (default: the demo's 1 s). The
	// "10 s jobs" row is where a poll sees every run while it is queued or
	// running; with 1 s jobs many runs start and end between two polls and
	// are never listed at all. Full mode only.
	jobDuration time.Duration
}{
	{"github webhook", "github", "webhook", 1.2, 0},
	{"github poll", "github", "poll", 2, 0},
	{"github poll 10s jobs", "github", "poll", 2, 10 * time.Second},
	{"gitea webhook", "gitea", "webhook", 1.5, 0},
	{"forgejo poll", "forgejo", "webhook", 1.5, 0}, // Forgejo sends no workflow_job webhooks: its jobs are polled
	{"github scale set", "github", "scaleset", 0, 0},
}

func runCalls(ctx context.Context, o Options, dir string, r *Result) error {
	jobs := 20
	if o.Short {
		jobs = 10
	}
	for _, mode := range callModes {
		if mode.jobDuration > 0 && o.Short {
			continue
		}
		sum, err := demo.Run(ctx, demo.Options{Jobs: jobs, Forge: mode.forge, Intake: mode.intake, Self: o.Self,
			JobDuration: mode.jobDuration, Settle: true, Timeout: 3 * time.Minute, Out: io.Discard,
			Dir: filepath.Join(dir, "calls-"+strings.ReplaceAll(mode.name, " ", "-"))})
		if err != nil {
			return fmt.Errorf("%s: %w", mode.name, err)
		}
		fc := ForgeCalls{Mode: mode.name, Jobs: jobs, Startup: sum.StartupCalls, Target: mode.target,
			ByEndpoint: map[string]float64{}}
		long := 0
		for k, n := range sum.ByEndpoint {
			fc.ByEndpoint[k] = float64(n) / float64(jobs)
			if strings.HasPrefix(k, "GET ") && strings.HasSuffix(k, "/messages") {
				long += n
			}
		}
		fc.PerJob = float64(sum.ForgeAPICalls) / float64(jobs)
		fc.LongPolls = float64(long) / float64(jobs)
		fc.Charged = float64(sum.ForgeAPICalls-sum.NotModified-long) / float64(jobs)
		r.Calls = append(r.Calls, fc)
	}
	return nil
}

func runWarm(ctx context.Context, o Options, dir string, r *Result) error {
	jobs := 8
	if o.Short {
		jobs = 4
	}
	sum, err := demo.Run(ctx, demo.Options{Jobs: jobs, Warm: jobs, Self: o.Self, Timeout: 3 * time.Minute,
		Out: io.Discard, Dir: filepath.Join(dir, "warm")})
	if err != nil {
		return err
	}
	r.Warm = &Warm{Jobs: jobs, P50S: sum.WaitP50.Seconds(), P99S: sum.WaitP99.Seconds()}
	return nil
}

// Package bench is `paddock bench`: it runs a real manager against the forge
// simulator with a provider that answers at once, and measures what Paddock
// itself costs: dispatch latency in bursts, sustained webhook rate, memory and
// CPU at scale, the scheduler's decision time, forge calls per job by
// endpoint, and warm-start latency. Each figure has a target (issue 14); the
// short mode run by CI fails only when a figure is past its target by a wide
// margin (Slack), so a slow shared machine does not fail it but a regression
// of that size does.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Options configure a run.
type Options struct {
	// Short runs fewer, smaller rows (CI); its figures are coarser.
	Short bool
	// ManagerCommand starts the manager process; "--config FILE …" is
	// appended. Default: this executable's `bench-manager`.
	ManagerCommand []string
	// Self is the paddock binary the forge-call rows' machines run
	// (`machine-boot`, `agent`). Default: this executable.
	Self string
	// Skip leaves out rows by name: dispatch, sustained, scale, scheduler,
	// calls, warm.
	Skip map[string]bool
	// Progress receives a line as each row starts.
	Progress io.Writer
	// Dir holds the managers' state; "" = a temp dir removed afterwards.
	Dir string
	// Bursts are the dispatch row's burst sizes (default 200 and 2,000).
	Bursts []int
}

// Result is one run's figures. Durations are in milliseconds, sizes in MiB.
type Result struct {
	Host      Host         `json:"host"`
	Short     bool         `json:"short"`
	Bursts    []Burst      `json:"bursts,omitempty"`
	Sustained *Sustained   `json:"sustained,omitempty"`
	Scale     *Scale       `json:"scale,omitempty"`
	Scheduler *Scheduler   `json:"scheduler,omitempty"`
	Calls     []ForgeCalls `json:"forge_calls,omitempty"`
	Warm      *Warm        `json:"warm_start,omitempty"`
	Checks    []Check      `json:"checks"`
}

// Host says where the figures were taken: the machine is often shared.
type Host struct {
	CPUs        int        `json:"cpus"`
	GoVersion   string     `json:"go_version"`
	LoadBefore  [3]float64 `json:"load_before"`
	LoadAfter   [3]float64 `json:"load_after"`
	StartedAt   time.Time  `json:"started_at"`
	DurationSec float64    `json:"duration_s"`
}

// Burst: n queued webhooks sent 16 at a time; latency from each webhook's
// arrival to the provider Create call for its machine.
type Burst struct {
	Jobs  int     `json:"jobs"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	// WallSec: first webhook sent → last create.
	WallSec float64 `json:"wall_s"`
}

// Sustained: webhooks offered at a fixed rate for a while.
type Sustained struct {
	OfferedPerSec  int     `json:"offered_per_s"`
	AchievedPerSec float64 `json:"achieved_per_s"` // webhooks answered a second
	Jobs           int     `json:"jobs"`
	// Created: jobs that got a machine of their own (the others were taken
	// by another job's machine first; see lifecycle).
	Created int     `json:"created"`
	P50Ms   float64 `json:"create_p50_ms"`
	P99Ms   float64 `json:"create_p99_ms"`
	// CPUSecPer1000: manager CPU time (user+system) per 1,000 jobs.
	CPUSecPer1000 float64 `json:"cpu_s_per_1000_jobs"`
	RSSMiB        float64 `json:"rss_mib"`
	PeakRSSMiB    float64 `json:"peak_rss_mib"`
}

// Scale: a manager whose store holds many pools and tracked instances,
// taking a burst of jobs.
type Scale struct {
	Pools      int     `json:"pools"`
	Instances  int     `json:"instances"`
	Jobs       int     `json:"jobs"`
	P50Ms      float64 `json:"create_p50_ms"`
	P99Ms      float64 `json:"create_p99_ms"`
	RSSMiB     float64 `json:"rss_mib"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// CPUSecPer1000: manager CPU per 1,000 jobs at this scale.
	CPUSecPer1000 float64 `json:"cpu_s_per_1000_jobs"`
}

// Scheduler: one pure decision (scheduler.Decide) on a synthetic snapshot.
type Scheduler struct {
	Pools     int     `json:"pools"`
	Instances int     `json:"instances"`
	Jobs      int     `json:"jobs"`
	Runs      int     `json:"runs"`
	P50Ms     float64 `json:"p50_ms"`
	MaxMs     float64 `json:"max_ms"`
	// CPUMs is CPU time per decision (less sensitive to a busy machine).
	CPUMs float64 `json:"cpu_ms"`
}

// ForgeCalls: the demo's jobs run end to end with the process provider;
// calls made during start-up and teardown are left out.
type ForgeCalls struct {
	Mode    string  `json:"mode"`
	Jobs    int     `json:"jobs"`
	PerJob  float64 `json:"per_job"`         // every call, 304s included
	Charged float64 `json:"charged_per_job"` // without 304s (GitHub does not charge them) and long polls
	// LongPolls: scale-set message long polls per job, counted apart.
	LongPolls  float64            `json:"long_polls_per_job,omitempty"`
	Startup    int                `json:"startup_calls"`
	ByEndpoint map[string]float64 `json:"by_endpoint"` // per job
	Target     float64            `json:"target,omitempty"`
}

// Warm: jobs queued while as many idle runners wait.
type Warm struct {
	Jobs int     `json:"jobs"`
	P50S float64 `json:"queued_to_running_p50_s"`
	P99S float64 `json:"queued_to_running_p99_s"`
}

// Run measures every row not skipped.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "paddock-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	r := &Result{Short: o.Short, Host: Host{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
		LoadBefore: loadAvg(), StartedAt: time.Now().UTC()}}
	rows := []struct {
		name string
		run  func(context.Context, Options, string, *Result) error
	}{
		{"dispatch", runBursts}, {"sustained", runSustained}, {"scale", runScale},
		{"scheduler", runScheduler}, {"calls", runCalls}, {"warm", runWarm},
	}
	for _, row := range rows {
		if o.Skip[row.name] {
			continue
		}
		fmt.Fprintf(o.Progress, "bench: %s …\n", row.name)
		if err := row.run(ctx, o, dir, r); err != nil {
			return r, fmt.Errorf("bench %s: %w", row.name, err)
		}
	}
	r.Host.LoadAfter = loadAvg()
	r.Host.DurationSec = time.Since(r.Host.StartedAt).Seconds()
	r.Checks = checks(r)
	return r, nil
}

func (o *Options) defaults() error {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if len(o.Bursts) == 0 {
		o.Bursts = []int{200, 2000}
	}
	if o.Self == "" || len(o.ManagerCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		if o.Self == "" {
			o.Self = exe
		}
		if len(o.ManagerCommand) == 0 {
			o.ManagerCommand = []string{exe, "bench-manager"}
		}
	}
	for name := range o.Skip {
		switch name {
		case "dispatch", "sustained", "scale", "scheduler", "calls", "warm":
		default:
			return fmt.Errorf("--skip %q: rows are dispatch, sustained, scale, scheduler, calls and warm", name)
		}
	}
	return nil
}

// loadAvg reads /proc/loadavg (zeros where there is none).
func loadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	_, _ = fmt.Sscanf(strings.TrimSpace(string(b)), "%f %f %f", &l[0], &l[1], &l[2])
	return l
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

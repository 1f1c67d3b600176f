// Package demo runs Paddock end to end on one machine: the GitHub simulator,
// a manager with the production wiring (SQLite in a temp dir) and a local
// provider. It queues jobs with a mix of labels, shows progress, and checks
// that every job completed and nothing leaked.
package demo

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
	"github.com/paddock-ci/paddock/internal/store"
)

// Options configure a demo run.
type Options struct {
	Jobs     int
	Provider string // "process", "external", "qemu" or "lxd"
	// Forge is the simulated forge: github (default), gitea or forgejo.
	Forge string
	// Intake: webhook (default) or poll (the simulator then sends no webhooks).
	Intake string
	// ProviderExec is the provider executable for Provider "external" (GARM's
	// protocol); ProviderConfig its config file ("" = a generated one naming
	// a state_dir, which the reference provider and `paddock provider-exec
	// process` both read).
	ProviderExec, ProviderConfig string
	// External: where machines that are not on this host reach the manager,
	// what the pools ask the provider for, and which interface to speak.
	External ExternalOptions
	Timeout  time.Duration
	// JobDuration is how long each simulated job works.
	JobDuration time.Duration
	// Every, if set, queues one job every Every instead of all at once: a
	// steady stream rather than a burst.
	Every time.Duration
	// Warm, if > 0, is the standard pool's min_idle: that many runners are
	// started and idle before any job is queued (a warm start).
	Warm int
	// Tenants, if ≥ 2, runs the sharing demo: that many tenants (one
	// repository each) on one shared pool; tenant A queues Jobs at once, the
	// others a few each once A holds the pool (tenants.go).
	Tenants int
	// Settle waits before queueing until the pools' warm runners are idle and
	// the manager's start-up calls have ended, so the summary's forge calls
	// are the jobs' own (start-up calls are reported apart). Warm implies it.
	Settle bool
	// Self is the paddock binary (machines run `Self machine-boot`, runners `Self agent`).
	Self string
	// Dir keeps state; "" = a temp dir removed afterwards.
	Dir string
	// ImageDir caches the fast image for Provider "qemu" ("" = the user's cache dir).
	ImageDir string
	// Arch is the machines' architecture: x64 (default) or arm64 (qemu only:
	// arm64 microVMs, emulated on an x64 host).
	Arch string
	// DownloadRunner makes qemu VMs download the runner package rather than
	// find it baked into the image.
	DownloadRunner bool
	// QEMUStart is the qemu provider's start mode (boot or snapshot). With
	// snapshot the demo waits, before queueing, for the warm VM (which
	// cold-boots and has the template built) and the template.
	QEMUStart      string
	dir            string            // the run's state dir
	simHost        string            // the simulator's host:port, forwarded into VMs (set for qemu)
	guest          string            // paddock-guest for the fast image (qemu)
	runnerBinaries map[string]string // the simulator's runner programs by arch (qemu)
	// lxdProfile is the profile the lxd demo makes (this binary, mounted).
	lxdProfile string
	Out        io.Writer
	// Log receives the manager's log; nil discards it.
	Log io.Writer
	// Keep leaves the manager (and its dashboard) up after the summary
	// until ctx ends (Ctrl-C), so a person can look around.
	Keep bool
}

const repo = "paddock-demo/app"

// jobMix cycles through label sets that exercise pool choice: plain labels,
// a higher-priority pool, and a size label.
var jobMix = [][]string{
	{"self-hosted", "linux"},
	{"self-hosted", "linux", "x64", "docker"},
	{"self-hosted", "Linux", "X64"},
	{"self-hosted", "linux", "4cpu-16gb"},
}

func secret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Run executes the demo and returns its summary. The error is non-nil when
// any job failed to complete or anything leaked.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.Jobs <= 0 {
		return nil, errors.New("--jobs must be at least 1")
	}
	if o.Provider == "" {
		o.Provider = "process"
	}
	switch {
	case o.Provider == "external" && o.ProviderExec == "":
		return nil, errors.New("--provider external needs --provider-exec PATH (a program speaking GARM's provider protocol)")
	case o.Provider != "process" && o.Provider != "external" && o.Provider != "qemu" && o.Provider != "lxd":
		return nil, fmt.Errorf("provider %q is not available in this build (use process, external, qemu or lxd)", o.Provider)
	case o.Provider != "external" && (o.ProviderExec != "" || o.ProviderConfig != ""):
		return nil, errors.New("--provider-exec and --provider-config need --provider external")
	case o.QEMUStart != "" && o.QEMUStart != qemu.StartBoot && o.QEMUStart != qemu.StartSnapshot:
		return nil, fmt.Errorf("--start %q: want boot or snapshot", o.QEMUStart)
	case o.QEMUStart == qemu.StartSnapshot && (o.Provider != "qemu" || o.Arch == "arm64"):
		return nil, errors.New("--start snapshot needs --provider qemu with x64 guests")
	case o.Every < 0:
		return nil, errors.New("--every must not be negative")
	case o.Every > 0 && o.Tenants > 0:
		return nil, errors.New("--every and --tenants do not go together: the sharing demo queues its own way")
	}
	if err := checkForge(&o); err != nil {
		return nil, err
	}
	if err := checkIntake(&o); err != nil {
		return nil, err
	}
	if err := checkArch(&o); err != nil {
		return nil, err
	}
	if err := checkTenants(&o); err != nil {
		return nil, err
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.JobDuration == 0 {
		o.JobDuration = time.Second
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	// The progress lines and the tenants' queueing goroutine print at the
	// same time; a caller's writer (a test's buffer) need not be safe for
	// that.
	o.Out = &lockedWriter{w: o.Out}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Self == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		o.Self = exe
	}
	if o.Provider == "qemu" {
		if err := guestPrograms(&o); err != nil {
			return nil, err
		}
	}
	dir := o.Dir
	if dir != "" {
		// A first run names a directory that does not exist yet; everything
		// below (store, provider config, machines) writes into it.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("--state-dir %s: %w (choose a directory you can write to)", dir, err)
		}
	} else {
		d, err := os.MkdirTemp("", "paddock-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	parent := ctx
	o.dir = dir
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	if err := checkExternal(o); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", cmp.Or(o.External.Listen, "127.0.0.1:0"))
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	hookSecret := secret()
	sim := forgesim.New(forgesim.Options{
		WebhookURL: webhookURL(o, "http://"+l.Addr().String()+"/webhooks/"+o.Forge), WebhookSecret: hookSecret, Flavor: o.Forge,
		RunnerCommand: runnerCommand(o), RunnerBinaries: o.runnerBinaries, Seed: 1,
	})
	if err := sim.Start(simListen(o, l)); err != nil {
		l.Close()
		return nil, err
	}
	defer sim.Close()
	if err := externalMachineURLs(o, sim); err != nil {
		l.Close()
		return nil, err
	}
	if o.Provider == "qemu" {
		if err := prepareQEMU(ctx, &o, sim); err != nil {
			l.Close()
			return nil, err
		}
	}
	var lxdCleanup func() error
	if o.Provider == "lxd" {
		profile, cleanup, err := prepareLXD(ctx, &o, sim)
		if err != nil {
			l.Close()
			return nil, err
		}
		o.lxdProfile, lxdCleanup = profile, cleanup
		// Runs after the manager has stopped (defers run last first).
		defer func() {
			if err := lxdCleanup(); err != nil {
				fmt.Fprintf(o.Out, "LXD profile %s not deleted (a container still uses it?): %v\n", profile, err)
			}
		}()
	}

	provBlock, err := providerBlock(o, dir)
	if err != nil {
		l.Close()
		return nil, err
	}
	cfg, err := demoConfig(dir, l.Addr().String(), simForge(o, sim), hookSecret, provBlock)
	if err != nil {
		l.Close()
		return nil, err
	}
	applyIntake(o, cfg)
	applyWarm(o, cfg)
	applyExternal(o, cfg)
	applyArch(o, cfg)
	if o.Tenants > 0 {
		applyTenants(o, cfg)
	}
	logger := slog.New(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	disp := &latencies{}
	a, err := app.New(ctx, cfg, app.Options{Logger: logger, Listener: l, BootCommand: []string{o.Self, "machine-boot"},
		OnDispatch: disp.add})
	if err != nil {
		l.Close()
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	defer func() { stop(); <-done }()

	fmt.Fprintf(o.Out, "Paddock demo: simulator %s, manager %s, provider %s, state in %s\n", sim.URL(), a.URL(), o.Provider, dir)
	fmt.Fprintf(o.Out, "dashboard: %s/ui/ (sign in with this demo's admin token: %s)\n", a.URL(), string(cfg.Server.AdminToken))
	mix := archMix(o, demoJobMix(o))
	if o.Tenants > 0 {
		fmt.Fprintf(o.Out, "%d tenants share one pool; tenant a (%s) queues %d jobs at once\n", o.Tenants, repo, o.Jobs)
	} else {
		fmt.Fprintf(o.Out, "queueing %d jobs on %s with labels:", o.Jobs, repo)
		for _, m := range mix {
			fmt.Fprintf(o.Out, " %v", m)
		}
		fmt.Fprintln(o.Out)
	}
	var startup map[string]map[int]int
	if o.Settle || o.Warm > 0 || o.QEMUStart == qemu.StartSnapshot {
		if startup, err = settle(ctx, o.Out, sim, a.Store, cfg); err != nil {
			return nil, err
		}
	}
	if o.QEMUStart == qemu.StartSnapshot {
		if err := waitSnapshots(ctx, o.Out, a); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	total := o.Jobs
	if o.Tenants > 0 {
		// Stopped and waited for when Run returns, so nothing is printed
		// after it.
		qctx, qcancel := context.WithCancel(ctx)
		qdone := make(chan struct{})
		defer func() { qcancel(); <-qdone }()
		go func() {
			defer close(qdone)
			// Watch counts o.Jobs; it learns the total once all are queued.
			if _, qerr := queueTenants(qctx, o, sim); qerr != nil && qctx.Err() == nil {
				fmt.Fprintf(o.Out, "queue tenants' jobs: %v\n", qerr)
			}
		}()
		total = o.Jobs + (o.Tenants-1)*tenantFewJobs
	}
	queue := func(i int) error {
		js := forgesim.JobSpec{Repo: repo, Labels: mix[i%len(mix)], Name: fmt.Sprintf("job-%02d", i+1), Duration: o.JobDuration}
		if o.Provider == "lxd" {
			js.Command = lxdJobCommand
		}
		if _, err := sim.QueueJob(js); err != nil {
			return fmt.Errorf("queue job: %w", err)
		}
		return nil
	}
	switch {
	case o.Tenants > 0:
	case o.Every > 0:
		// Stopped and waited for when Run returns, as the tenants' queueing is.
		qctx, qcancel := context.WithCancel(ctx)
		qdone := make(chan struct{})
		defer func() { qcancel(); <-qdone }()
		go func() {
			defer close(qdone)
			t := time.NewTicker(o.Every)
			defer t.Stop()
			for i := 0; i < o.Jobs; i++ {
				if i > 0 {
					select {
					case <-qctx.Done():
						return
					case <-t.C:
					}
				}
				if err := queue(i); err != nil {
					fmt.Fprintln(o.Out, err)
					return
				}
			}
		}()
	default:
		for i := 0; i < o.Jobs; i++ {
			if err := queue(i); err != nil {
				return nil, err
			}
		}
	}
	err = watch(ctx, o.Out, sim, a.Store, total, start)
	// The summary (and the teardown it does) gets its own minute even when the
	// run timed out: a timed-out demo must still report what leaked.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 90*time.Second)
	defer scancel()
	sum := summarize(sctx, sim, a, total, time.Since(start), disp, startup)
	sum.Print(o.Out)
	if o.Tenants > 0 && err == nil {
		err = tenantReport(sctx, o.Out, o, sim, a)
	}
	if o.Intake == intakeScaleSet {
		printScaleSetCalls(o.Out, sim, o.Jobs)
	}
	if o.Provider == "qemu" {
		printVMTimes(o.Out, a, sim)
	}
	if o.Provider == "lxd" {
		if overlap := printContainerTimes(o.Out, sim); overlap < 2 && o.Jobs >= 2 && err == nil {
			err = errors.New("demo failed: no two jobs held the same port at the same time, so isolation was not shown")
		}
	}
	if o.Keep {
		// The summary drained the pools; the dashboard still shows the run.
		fmt.Fprintf(o.Out, "--keep: the manager stays up at %s/ui/ until you press Ctrl-C\n", a.URL())
		<-parent.Done()
	}
	if err != nil {
		return sum, err
	}
	if !sum.OK() {
		return sum, errors.New("demo failed: not every job completed or something leaked")
	}
	return sum, nil
}

func demoConfig(dir, listen string, fg forgeSetup, hookSecret, provBlock string) (*config.Config, error) {
	doc := fmt.Sprintf(`
server:
  listen: %s
  admin_token: %s
store:
  path: %s
  encryption_key: %s
state_dir: %s
controller:
  reconcile_interval: 10s
  idle_grace: 5s
providers:
  - name: local
    max_parallel: 8
%s
forges:
  - name: sim
    kind: %s
    api_url: %s
    web_url: %s
    webhook_secret: %s
    credential: {kind: pat, token: demo-token-not-a-real-pat}%s
entities:
  - {forge: sim, kind: repository, name: %s, intake: webhook}
pools:
  - name: standard
    entity: %s
    provider: local
    labels: [linux, x64]
    max_runners: 6
    min_idle: 1
    bootstrap_timeout: 2m
    max_job_runtime: 10m
    sizes: {max_cpu: 8, max_memory_gb: 32}
  - name: docker
    entity: %s
    provider: local
    labels: [linux, x64, docker]
    priority: 10
    max_runners: 3
    bootstrap_timeout: 2m
    max_job_runtime: 10m
`, listen, secret(), filepath.Join(dir, "paddock.db"), secret(), dir, provBlock, fg.Kind, fg.APIURL, fg.WebURL, hookSecret, fg.Extra, repo, repo, repo)
	return config.Parse([]byte(doc), "demo.yaml", dir)
}

// watch prints progress until every job completed and every machine is gone.
func watch(ctx context.Context, out io.Writer, sim *forgesim.Sim, st store.Store, n int, start time.Time) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := ""
	for {
		jobs := sim.Jobs()
		var queued, running, done int
		for _, j := range jobs {
			switch j.Status {
			case forgesim.StatusQueued:
				queued++
			case forgesim.StatusInProgress:
				running++
			case forgesim.StatusCompleted:
				done++
			}
		}
		live, _ := st.ListInstances(ctx, store.InstanceFilter{Live: true})
		line := fmt.Sprintf("[%5.1fs] jobs: %2d queued %2d running %2d/%d done | machines: %2d live",
			time.Since(start).Seconds(), queued, running, done, n, len(live))
		if line[9:] != last {
			fmt.Fprintln(out, line)
			last = line[9:]
		}
		if done == n && idleOnly(live) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out: %d of %d jobs completed", done, n)
		case <-tick.C:
		}
	}
}

// idleOnly: what remains is only the warm idle capacity pools keep on purpose.
func idleOnly(live []core.Instance) bool {
	for _, i := range live {
		if i.State != core.InstanceRunning || i.Runner != core.RunnerIdle && !waitingUnbound(i) {
			return false
		}
	}
	return true
}

// providerBlock is the demo provider's type and settings (YAML, indented for
// the providers list).
func providerBlock(o Options, dir string) (string, error) {
	if o.Provider == "qemu" {
		return qemuBlock(o, dir), nil
	}
	if o.Provider == "lxd" {
		return lxdBlock(o, o.lxdProfile), nil
	}
	if o.Provider != "external" {
		return "    type: process", nil
	}
	exe, err := filepath.Abs(o.ProviderExec)
	if err != nil {
		return "", err
	}
	cfgFile := o.ProviderConfig
	if cfgFile == "" {
		cfgFile = filepath.Join(dir, "provider.json")
		b, _ := json.Marshal(map[string]string{"state_dir": filepath.Join(dir, "provider")})
		if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
			return "", err
		}
	}
	if cfgFile, err = filepath.Abs(cfgFile); err != nil {
		return "", err
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return fmt.Sprintf("    type: external\n    external:\n      provider_executable: %s\n      config_file: %s\n      exec_timeout: 3m\n      interface_version: %s",
		q(exe), q(cfgFile), q(cmp.Or(o.External.InterfaceVersion, "auto"))), nil
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

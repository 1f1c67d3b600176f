package controller_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/agent"
	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/provider"
)

// logBuf keeps the controller's log for assertions (and still shows it on failure).
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
	t   *testing.T
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	return tlog{l.t}.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func captureLog(t *testing.T) (harnessOpt, *logBuf) {
	l := &logBuf{t: t}
	return func(o *controller.Options) { o.Logger = slog.New(slog.NewTextHandler(l, nil)) }, l
}

// longIdleGrace keeps scale-down out of tests that are about something else.
func longIdleGrace(o *controller.Options) { o.IdleGrace = time.Hour }

func controllerID(id string) harnessOpt { return func(o *controller.Options) { o.ControllerID = id } }

func warmPool() core.Pool {
	p := pool("linux", "linux")
	p.MinIdle = 1
	return p
}

// bootRunner plays the machine of instance name: it fetches its runner config
// (which registers the runner at the forge) and reports the runner idle.
func (h *harness) bootRunner(name string) machineapi.RunnerConfig {
	h.t.Helper()
	spec, ok := h.prov.spec(name)
	if !ok {
		h.t.Fatalf("no machine %s", name)
	}
	cfg, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerIdle, ""); err != nil {
		h.t.Fatal(err)
	}
	return cfg
}

// settle returns once the reconcile a started manager runs first has
// finished, so it cannot act in the middle of a test (its poll, for one,
// would retire a queued job that a test runner has just taken), and then
// reconciles once more. Before a restart, pass listRunnerCalls() as it was
// after halt.
func (h *harness) settle(callsBefore ...int) {
	h.t.Helper()
	base := 0
	if len(callsBefore) > 0 {
		base = callsBefore[0]
	}
	h.eventually("start-up reconcile listed the runners", func() bool { return h.listRunnerCalls() > base })
	h.ctl.ReconcileNow(h.ctx)
}

func (h *harness) listRunnerCalls() int {
	n := 0
	for key, byStatus := range h.sim.Stats().APICalls {
		if strings.HasPrefix(key, "GET ") && strings.HasSuffix(key, "/actions/runners") {
			for _, c := range byStatus {
				n += c
			}
		}
	}
	return n
}

func (h *harness) simRunner(name string) (forgesim.Runner, bool) {
	for _, r := range h.sim.Runners() {
		if r.Name == name {
			return r, true
		}
	}
	return forgesim.Runner{}, false
}

func (h *harness) oneRunning() core.Instance {
	h.t.Helper()
	h.eventually("a running machine", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	return h.instances(core.InstanceRunning)[0]
}

// runOnline connects a simulated runner with cfg, so the forge lists it online.
func (h *harness) runOnline(cfg machineapi.RunnerConfig) {
	actx, cancel := context.WithCancel(h.ctx)
	h.t.Cleanup(cancel)
	go agent.Run(actx, cfg.JITConfig, io.Discard) //nolint:errcheck
	h.eventually("runner online at the forge", func() bool {
		r, ok := h.simRunner(cfg.Name)
		return ok && r.Status == "online"
	})
}

// Someone else's idle runners on the repository, even named with Paddock's
// prefix, survive reconcile; a registration of Paddock's own deleted
// instance does not.
func TestReconcileRemovesOnlyRegistrationsItOwns(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	other, err := github.New(h.forge, github.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"t-foreign0001", "paddock-foreign"} {
		if _, err := other.JITConfig(h.ctx, h.entity, forge.JITRequest{Name: name, Labels: []string{"linux"}, RunnerGroupID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// Paddock's own leftover: its instance is deleted, its registration not.
	h.event("queued", 50, []string{"linux"}, "")
	mine := h.oneRunning().Name
	h.bootRunner(mine)
	h.halt()
	calls := h.listRunnerCalls()
	for _, st := range []core.InstanceState{core.InstancePendingDelete, core.InstanceDeleting, core.InstanceDeleted} {
		if _, err := h.st.UpdateInstance(h.ctx, mine, func(i *core.Instance) error { i.State = st; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	h.start()
	h.settle(calls)
	for _, name := range []string{"t-foreign0001", "paddock-foreign"} {
		if _, ok := h.simRunner(name); !ok {
			t.Errorf("reconcile deleted %s, a runner Paddock never registered", name)
		}
	}
	if _, ok := h.simRunner(mine); ok {
		t.Errorf("registration of deleted instance %s was left behind", mine)
	}
}

// Two installations on one repository (two stores, two controller ids) never
// remove each other's idle runners.
func TestTwoManagersOnOneRepositoryKeepEachOthersRunners(t *testing.T) {
	sim := forgesim.New(forgesim.Options{})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	a := newHarnessOn(t, sim, []core.Pool{warmPool()}, controllerID("ctl-a"))
	b := newHarnessOn(t, sim, []core.Pool{warmPool()}, controllerID("ctl-b"))
	var names []string
	for _, h := range []*harness{a, b} {
		name := h.oneRunning().Name
		h.runOnline(h.bootRunner(name))
		names = append(names, name)
	}
	for range 2 {
		a.ctl.ReconcileNow(a.ctx)
		b.ctl.ReconcileNow(b.ctx)
	}
	for i, h := range []*harness{a, b} {
		if _, ok := h.simRunner(names[i]); !ok {
			t.Errorf("manager %d's idle runner %s was deleted at the forge", i, names[i])
		}
		if inst, _ := h.st.GetInstance(h.ctx, names[i]); inst.State != core.InstanceRunning {
			t.Errorf("manager %d's instance %s is %s, want running", i, names[i], inst.State)
		}
	}
}

// listHook lets a test act between a provider listing and its return, as a
// concurrent operation would.
type listHook struct {
	provider.Provider
	mu   sync.Mutex
	hook func()
}

func (l *listHook) List(ctx context.Context) ([]provider.Machine, error) {
	ms, err := l.Provider.List(ctx)
	l.mu.Lock()
	hook := l.hook
	l.hook = nil
	l.mu.Unlock()
	if hook != nil {
		hook()
	}
	return ms, err
}

// A machine deleted while reconcile lists machines is neither reported as
// untracked nor deleted a second time.
func TestReconcileRacingADeleteLeavesItAlone(t *testing.T) {
	lh := &listHook{}
	logOpt, logs := captureLog(t)
	h := newHarness(t, []core.Pool{warmPool()}, logOpt, func(o *controller.Options) {
		lh.Provider = o.Providers["mem"]
		o.Providers = map[string]provider.Provider{"mem": lh}
	})
	victim := h.oneRunning().Name
	h.settle()
	lh.mu.Lock()
	lh.hook = func() {
		if err := h.ctl.DeleteInstance(h.ctx, victim); err != nil {
			t.Error(err)
		}
		h.eventually("delete done during the listing", func() bool {
			i, _ := h.st.GetInstance(h.ctx, victim)
			return i.State == core.InstanceDeleted
		})
	}
	lh.mu.Unlock()
	h.ctl.ReconcileNow(h.ctx)
	if strings.Contains(logs.String(), "does not track") {
		t.Error("reconcile called a machine it was deleting untracked")
	}
	h.prov.mu.Lock()
	defer h.prov.mu.Unlock()
	n := 0
	for _, d := range h.prov.deletes {
		if d == victim {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%s deleted %d times, want 1", victim, n)
	}
}

// A machine that reports its runner idle but whose runner never comes online
// at the forge is replaced after two listings (once the grace has passed); an
// online one is kept.
func TestIdleRunnerNeverOnlineIsReplaced(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")}, longIdleGrace,
		func(o *controller.Options) { o.RunnerOnlineGrace = time.Millisecond })
	h.settle()
	j, err := h.sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}})
	if err != nil {
		t.Fatal(err)
	}
	h.event("queued", j.ID, []string{"linux"}, "")
	silent := h.oneRunning().Name
	h.bootRunner(silent) // registered, never connects
	h.ctl.ReconcileNow(h.ctx)
	if i, _ := h.st.GetInstance(h.ctx, silent); i.State != core.InstanceRunning {
		t.Fatalf("after one listing the machine is %s; one offline listing is not enough", i.State)
	}
	h.ctl.ReconcileNow(h.ctx)
	h.eventually("silent machine replaced", func() bool {
		i, _ := h.st.GetInstance(h.ctx, silent)
		if i.State != core.InstanceDeleted || i.DeleteReason != "runner_offline" {
			return false
		}
		for _, r := range h.live() {
			if r.Name != silent {
				return true
			}
		}
		return false
	})
}

func TestOnlineIdleRunnerIsKept(t *testing.T) {
	h := newHarness(t, []core.Pool{warmPool()}, func(o *controller.Options) { o.RunnerOnlineGrace = time.Millisecond })
	name := h.oneRunning().Name
	h.runOnline(h.bootRunner(name))
	for range 3 {
		h.ctl.ReconcileNow(h.ctx)
	}
	if i, _ := h.st.GetInstance(h.ctx, name); i.State != core.InstanceRunning || i.Runner != core.RunnerIdle {
		t.Fatalf("online idle runner's instance is %s/%s", i.State, i.Runner)
	}
}

// The completed webhook was lost (the manager was down): the forge has
// dropped the ephemeral runner, so the next reconcile retires the instance
// instead of holding it until max_job_runtime.
func TestLostCompletedWebhookRetiresInstanceAtNextReconcile(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")}, longIdleGrace)
	h.settle()
	j, err := h.sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}, Duration: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.event("queued", j.ID, []string{"linux"}, "")
	name := h.oneRunning().Name
	cfg := h.bootRunner(name)
	h.event("in_progress", j.ID, []string{"linux"}, name)
	actx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	go agent.Run(actx, cfg.JITConfig, io.Discard) //nolint:errcheck
	if err := h.sim.WaitJobs(h.ctx, func(js []forgesim.Job) bool { return js[0].Status == forgesim.StatusCompleted }); err != nil {
		t.Fatal(err)
	}
	if i, _ := h.st.GetInstance(h.ctx, name); i.Runner != core.RunnerActive {
		t.Fatalf("runner state %s before reconcile, want active (completed webhook lost)", i.Runner)
	}
	h.ctl.ReconcileNow(h.ctx)
	h.eventually("instance retired", func() bool {
		i, _ := h.st.GetInstance(h.ctx, name)
		return i.State == core.InstanceDeleted && i.DeleteReason == "runner_gone"
	})
}

// Gitea sends no webhook when a running job is cancelled and drops the
// ephemeral runner: the next reconcile retires the instance.
func TestGiteaCancelledJobRetiresInstanceAtNextReconcile(t *testing.T) {
	sim := forgesim.New(forgesim.Options{Flavor: forgesim.FlavorGitea, LongPoll: 2 * time.Second,
		RunnerCommand: []string{"/bin/true"}})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	h := newHarnessOn(t, sim, []core.Pool{pool("linux", "linux")}, longIdleGrace)
	h.settle()
	j, err := sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h.event("queued", j.ID, []string{"linux"}, "")
	name := h.oneRunning().Name
	cfg := h.bootRunner(name)
	rf, err := gitea.DecodeRunnerFile(cfg.JITConfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := forgesim.FetchTask(h.ctx, rf.Address, rf.UUID, rf.Token); err != nil {
		t.Fatal(err)
	}
	h.event("in_progress", j.ID, []string{"linux"}, name)
	if r, ok := h.simRunner(name); !ok || !r.Busy {
		t.Fatalf("runner at the forge = %+v, %v; want busy", r, ok)
	}
	if err := sim.CancelJob(j.ID); err != nil {
		t.Fatal(err)
	}
	h.ctl.ReconcileNow(h.ctx)
	h.eventually("instance retired", func() bool {
		i, _ := h.st.GetInstance(h.ctx, name)
		return i.State == core.InstanceDeleted && i.DeleteReason == "runner_gone"
	})
	// No webhook will ever complete the job: the forge's word (its runner is
	// gone) closes it, or it would stay in_progress and outlive retention.
	job, err := h.st.GetJob(h.ctx, h.entity.ID, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.State != core.JobCompleted || job.Conclusion != "unknown" || job.Note == "" || job.CompletedAt.IsZero() {
		t.Fatalf("job after its runner vanished = %s/%q note %q completed_at %v; want completed/unknown with a note",
			job.State, job.Conclusion, job.Note, job.CompletedAt)
	}
}

// Disabling a pool removes its booting machines at once instead of after
// bootstrap_timeout.
func TestDisablingPoolRemovesBootingMachines(t *testing.T) {
	h := newHarness(t, []core.Pool{warmPool()})
	name := h.oneRunning().Name // runner pending: the machine is booting
	pools, _ := h.st.ListPools(h.ctx)
	pools[0].Enabled = false
	if err := h.st.UpdatePool(h.ctx, &pools[0]); err != nil {
		t.Fatal(err)
	}
	h.ctl.Notify()
	h.eventually("booting machine removed", func() bool {
		i, _ := h.st.GetInstance(h.ctx, name)
		return i.State == core.InstanceDeleted && i.DeleteReason == "pool_disabled"
	})
	if _, ok := h.prov.spec(name); ok {
		t.Fatal("machine still exists at the provider")
	}
}

// A machine the provider lists in a pool this manager does not have is not
// provably Paddock's: reconcile leaves it, while an untracked machine of its
// own is removed.
func TestReconcileLeavesMachinesOfUnknownPools(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	h.settle()
	h.prov.mu.Lock()
	h.prov.machines["t-elsewhere"] = provider.Spec{Name: "t-elsewhere", PoolID: "pool-of-another-manager"}
	h.prov.machines["t-leaked"] = provider.Spec{Name: "t-leaked"}
	h.prov.mu.Unlock()
	h.ctl.ReconcileNow(h.ctx)
	if _, ok := h.prov.spec("t-elsewhere"); !ok {
		t.Error("reconcile deleted a machine of a pool this manager does not have")
	}
	if _, ok := h.prov.spec("t-leaked"); ok {
		t.Error("reconcile left an untracked machine of its own")
	}
}

// Within the grace, a runner slow to connect is not replaced however many
// listings show it offline.
func TestSlowRunnerWithinGraceIsKept(t *testing.T) {
	h := newHarness(t, []core.Pool{warmPool()}, func(o *controller.Options) { o.RunnerOnlineGrace = time.Hour })
	name := h.oneRunning().Name
	h.bootRunner(name)
	h.settle()
	for range 3 {
		h.ctl.ReconcileNow(h.ctx)
	}
	if i, _ := h.st.GetInstance(h.ctx, name); i.State != core.InstanceRunning {
		t.Fatalf("runner still within its grace: instance is %s (%s)", i.State, i.DeleteReason)
	}
}

package controller_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/store"
)

func TestPollFindsJobWhoseWebhookWasLost(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	// The forge has a queued job, but its webhook never reached Paddock.
	if _, err := h.sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}}); err != nil {
		t.Fatal(err)
	}
	h.halt()
	h.start() // a (re)started manager polls at once
	h.eventually("machine for the missed job", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	jobs, _ := h.st.ListJobs(h.ctx, storeJobFilterQueued())
	if len(jobs) != 1 {
		t.Fatalf("queued jobs in store = %d, want 1", len(jobs))
	}
}

func TestMachineNeverSeesForgeCredential(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	h.event("queued", 20, []string{"linux"}, "")
	h.eventually("machine", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	inst := h.instances(core.InstanceRunning)[0]
	spec, _ := h.prov.spec(inst.Name)
	cfg, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token)
	if err != nil {
		t.Fatal(err)
	}
	specJSON, _ := json.Marshal(spec)
	cfgJSON, _ := json.Marshal(cfg)
	for what, data := range map[string]string{"spec": string(specJSON) + spec.Token, "runner config": string(cfgJSON)} {
		if strings.Contains(data, harnessPAT) {
			t.Errorf("%s handed to the machine contains the forge PAT", what)
		}
		if strings.Contains(strings.ToLower(data), "registration") {
			t.Errorf("%s mentions a registration token: %s", what, data)
		}
	}
}

func TestForgeErrorWhileMintingLetsMachineRetry(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	h.event("queued", 21, []string{"linux"}, "")
	h.eventually("machine", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	inst := h.instances(core.InstanceRunning)[0]
	spec, _ := h.prov.spec(inst.Name)
	h.sim.FailNext("POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig", http.StatusInternalServerError, 10)
	if _, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token); err == nil {
		t.Fatal("mint succeeded while the forge answered 500")
	}
	// The client retries 5xx a few times per call; the machine retries the
	// call until the injected failures are used up.
	var err error
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if _, err = h.ctl.RunnerConfigFor(h.ctx, spec.Token); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("machine could not get its config once the forge recovered: %v", err)
	}
}

func TestRateLimitedRunnerRemovalHonoursRetryAfter(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	h.event("queued", 22, []string{"linux"}, "")
	h.eventually("machine", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	inst := h.instances(core.InstanceRunning)[0]
	spec, _ := h.prov.spec(inst.Name)
	if _, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token); err != nil {
		t.Fatal(err)
	}
	h.sim.SetFaults(forgesim.Faults{RetryAfter: 2 * time.Second})
	h.sim.FailNext("DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}", http.StatusTooManyRequests, 1)
	start := time.Now()
	if err := h.ctl.DeleteInstance(h.ctx, inst.Name); err != nil {
		t.Fatal(err)
	}
	h.eventually("rate limit recorded", func() bool {
		i, _ := h.st.GetInstance(h.ctx, inst.Name)
		return i.State == core.InstancePendingDelete && strings.Contains(i.Fault, "rate limit")
	})
	i, _ := h.st.GetInstance(h.ctx, inst.Name)
	if wait := i.NextAttemptAt.Sub(start); wait < 1500*time.Millisecond {
		t.Fatalf("retry scheduled after %s; Retry-After said 2s", wait)
	}
	if _, ok := h.prov.spec(inst.Name); !ok {
		t.Fatal("machine destroyed before its runner registration was removed")
	}
	h.eventually("deleted after the wait", func() bool {
		i, _ := h.st.GetInstance(h.ctx, inst.Name)
		return i.State == core.InstanceDeleted
	})
	if time.Since(start) < 1500*time.Millisecond {
		t.Fatal("retried before Retry-After elapsed")
	}
}

func storeJobFilterQueued() store.JobFilter {
	return store.JobFilter{States: []core.JobState{core.JobQueued}}
}

// Jobs for a scale-set pool reach Paddock through the scale set's listener;
// the same job seen again by webhook or poll (under another id on GitHub)
// must not make a second machine.
func TestScaleSetJobsIgnoredFromWebhooksAndPolls(t *testing.T) {
	p := pool("ss", "ss")
	p.ScaleSet = true
	h := newHarness(t, []core.Pool{p, pool("linux", "linux")})
	h.event("queued", 30, []string{"ss"}, "")
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{{ID: 31, Labels: []string{"ss"}, State: core.JobQueued}}, true); err != nil {
		t.Fatal(err)
	}
	h.ctl.Notify()
	// A job for an ordinary pool, sent after them, gets its machine: the
	// controller has had its chance to act on the scale-set jobs by then.
	h.event("queued", 32, []string{"linux"}, "")
	h.eventually("machine for the ordinary job", func() bool { c, _ := h.prov.counts(); return c >= 1 })
	if jobs, _ := h.st.ListJobs(h.ctx, storeJobFilterQueued()); len(jobs) != 1 || jobs[0].ID != 32 {
		t.Fatalf("queued jobs stored = %+v; want only the ordinary job 32, no scale-set job", jobs)
	}
	if c, _ := h.prov.counts(); c != 1 {
		t.Fatalf("%d machines for one ordinary job and two the scale set accounts for", c)
	}
}

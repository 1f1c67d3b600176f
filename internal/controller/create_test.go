package controller_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/agent"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/metadata"
	"github.com/paddock-ci/paddock/internal/provider"
)

// bootingMachine plays a machine over the real metadata HTTP endpoints, the
// way a provider that waits for its machine to boot (GARM's LXD provider)
// runs it: all of this happens before the provider's Create returns.
type bootingMachine struct {
	t    *testing.T
	h    *harness
	meta *httptest.Server
	ctx  context.Context

	mu      sync.Mutex
	failure string               // what went wrong, if anything
	seen    []core.InstanceState // instance state at each call back
}

func newBootingMachine(t *testing.T, h *harness) *bootingMachine {
	mux := http.NewServeMux()
	(&metadata.Handler{Machines: h.ctl, Logger: slog.New(slog.NewTextHandler(testLog(t), nil))}).Routes(mux)
	m := &bootingMachine{t: t, h: h, meta: httptest.NewServer(mux), ctx: h.ctx}
	t.Cleanup(m.meta.Close)
	return m
}

func (m *bootingMachine) fail(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failure == "" {
		m.failure = fmt.Sprintf(format, args...)
	}
}

func (m *bootingMachine) note(name string) {
	i, err := m.h.st.GetInstance(m.ctx, name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		m.seen = append(m.seen, i.State)
	}
}

func (m *bootingMachine) call(method, path, token string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(m.ctx, method, m.meta.URL+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return http.DefaultClient.Do(req)
}

func (m *bootingMachine) report(spec provider.Spec, status string) {
	resp, err := m.call(http.MethodPost, "/api/v1/callbacks/status", spec.Token, machineapi.StatusReport{Status: status})
	if err != nil {
		m.fail("status %s: %v", status, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		m.fail("status callback %q answered %d", status, resp.StatusCode)
	}
}

// boot fetches the runner config, reports installing, starts the runner
// (the real agent, against the forge simulator) and reports idle. A refused
// config fetch is reported as a failed bootstrap, as the bootstrap script does.
func (m *bootingMachine) boot(spec provider.Spec) {
	m.note(spec.Name)
	resp, err := m.call(http.MethodGet, "/api/v1/metadata/runner", spec.Token, nil)
	if err != nil {
		m.fail("runner config: %v", err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		m.fail("runner config fetch answered %d before the provider's Create returned", resp.StatusCode)
		m.report(spec, "failed")
		return
	}
	var cfg machineapi.RunnerConfig
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		m.fail("runner config: %v", err)
		return
	}
	m.report(spec, "installing")
	go agent.Run(m.ctx, cfg.JITConfig, io.Discard) //nolint:errcheck
	m.note(spec.Name)
	m.report(spec, "idle")
}

func (m *bootingMachine) result() (string, []core.InstanceState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failure, append([]core.InstanceState(nil), m.seen...)
}

// A machine that boots and calls back while its provider's Create is still
// running must get its runner config and run its job; the create's return
// must not undo what the machine reported.
func TestMachineCallingBackBeforeCreateReturnsRunsItsJob(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	m := newBootingMachine(t, h)
	h.prov.onCreate = m.boot

	job, err := h.sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.event("queued", job.ID, []string{"linux"}, "")
	var done forgesim.Job
	h.eventually("job done by the runner, or the machine failed", func() bool {
		if f, _ := m.result(); f != "" {
			return true
		}
		for _, j := range h.sim.Jobs() {
			if j.ID == job.ID && j.Status == "completed" {
				done = j
				return true
			}
		}
		return false
	})
	failure, seen := m.result()
	if failure != "" {
		t.Fatalf("machine: %s (instance states at its calls: %v)", failure, seen)
	}
	for _, st := range seen {
		if st != core.InstancePendingCreate && st != core.InstanceCreating {
			t.Fatalf("machine called back in state %s: the provider's Create had already returned", st)
		}
	}
	if done.Conclusion != "success" {
		t.Fatalf("job = %+v", done)
	}
	h.eventually("create returned: running, runner still idle", func() bool {
		i, err := h.st.GetInstance(h.ctx, done.RunnerName)
		return err == nil && i.State == core.InstanceRunning && i.Runner == core.RunnerIdle && i.RunnerID != 0
	})
	// The forge's webhooks for the job reach Paddock.
	h.event("in_progress", job.ID, []string{"linux"}, done.RunnerName)
	h.event("completed", job.ID, []string{"linux"}, done.RunnerName)
	h.eventually("machine destroyed after its one job", func() bool {
		i, err := h.st.GetInstance(h.ctx, done.RunnerName)
		return err == nil && i.State == core.InstanceDeleted && i.DeleteReason == "job_completed"
	})
	if c, _ := h.prov.counts(); c != 1 {
		t.Fatalf("%d creates, want 1", c)
	}
}

// A provider that waits for its machine may still answer with an error (its
// wait timed out) after the machine booted and took its runner config: the
// machine exists and is kept, not destroyed and recreated under the same name
// with a spent token.
func TestCreateErrorAfterMachineCalledBackKeepsMachine(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	m := newBootingMachine(t, h)
	h.prov.onCreate = m.boot
	h.prov.failCreate = func(string, int) error { return errors.New("timed out waiting for the instance to boot") }
	h.event("queued", 41, []string{"linux"}, "")
	var inst core.Instance
	h.eventually("instance kept as running", func() bool {
		is := h.instances(core.InstanceRunning)
		if len(is) == 1 {
			inst = is[0]
		}
		return len(is) == 1
	})
	if failure, seen := m.result(); failure != "" {
		t.Fatalf("machine: %s (states %v)", failure, seen)
	}
	if inst.Runner != core.RunnerIdle || !strings.Contains(inst.Fault, "timed out waiting") {
		t.Fatalf("instance = %+v", inst)
	}
	if _, ok := h.prov.spec(inst.Name); !ok {
		t.Fatal("the machine was removed at the provider")
	}
	pools, _ := h.st.ListPools(h.ctx)
	if hl, failing := h.ctl.PoolHealth()[pools[0].ID]; failing {
		t.Fatalf("pool marked failing although its machine came up: %+v", hl)
	}
	if c, d := h.prov.counts(); c != 1 || d != 0 {
		t.Fatalf("%d creates and %d deletes, want 1 and 0", c, d)
	}
}

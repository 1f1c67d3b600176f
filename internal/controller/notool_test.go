package controller_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/machineapi"
)

// TestNoRunnerDownloadStopsTheMachineAndFailsThePool: a pool whose os/arch
// the forge publishes no runner for (the simulator, like GitHub, has no
// win-arm) cannot boot any machine. The machine is told to stop at once
// (not left to retry until its bootstrap timeout) and the pool backs off;
// a later create that succeeds does not make it look healthy again.
func TestNoRunnerDownloadStopsTheMachineAndFailsThePool(t *testing.T) {
	p := pool("winarm", "winarm")
	p.OSType, p.Arch = "windows", "arm"
	h := newHarness(t, []core.Pool{p})
	h.event("queued", 1, []string{"winarm"}, "")
	h.eventually("machine running", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	inst := h.instances(core.InstanceRunning)[0]
	spec, _ := h.prov.spec(inst.Name)

	_, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token)
	if !errors.Is(err, machineapi.ErrInstanceGone) || !strings.Contains(err.Error(), "win-arm64") {
		t.Fatalf("config for a pool with no runner download: %v; want ErrInstanceGone naming what the forge offers", err)
	}
	got, err := h.st.GetInstance(h.ctx, inst.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got.DeleteReason != core.DeleteBootstrapFailed || !strings.Contains(got.Fault, "no runner download") {
		t.Fatalf("instance after a missing download: reason %q fault %q", got.DeleteReason, got.Fault)
	}
	poolID := inst.PoolID
	h.eventually("pool failing", func() bool { return h.ctl.PoolHealth()[poolID].Failing() })

	// The replacement machine's create succeeds: the pool must stay failing,
	// since that machine will not get a runner config either.
	h.eventually("replacement created after the backoff", func() bool {
		for _, i := range h.live() {
			if i.Name != inst.Name {
				return true
			}
		}
		return false
	})
	if !h.ctl.PoolHealth()[poolID].Failing() {
		t.Fatal("a successful create cleared the failure of a pool whose machines cannot get a runner")
	}
}

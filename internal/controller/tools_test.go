package controller_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/metrics"
)

const downloadsRoute = "GET /repos/{owner}/{repo}/actions/runners/downloads"

// TestMachinesShareOneDownloadListCall: N machines fetching their runner
// config at once cost the forge one download-list call (counted in
// paddock_forge_calls_total); a machine reporting a failed bootstrap drops
// the cached list, so the next config asks the forge again.
func TestMachinesShareOneDownloadListCall(t *testing.T) {
	const n = 5
	sim := forgesim.New(forgesim.Options{})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	m := metrics.New()
	client, err := github.New(core.Forge{Name: "sim", Kind: core.ForgeGitHub, APIURL: sim.URL(),
		Credential: core.Credential{Kind: core.CredentialPAT, Token: harnessPAT}}, github.Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	p := pool("win", "windows")
	p.OSType, p.MaxRunners = "windows", n+1
	h := newHarnessOn(t, sim, []core.Pool{p}, func(o *controller.Options) { o.Forges = simForges{client} })
	for i := range n + 1 {
		h.event("queued", int64(100+i), []string{"windows"}, "")
	}
	h.eventually("machines running", func() bool { return len(h.instances(core.InstanceRunning)) == n+1 })
	insts := h.instances(core.InstanceRunning)

	// Slow forge answers make the boots overlap, as on a real forge.
	if err := sim.SetFaults(forgesim.Faults{Latency: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, inst := range insts[:n] {
		spec, _ := h.prov.spec(inst.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token)
			if err == nil && (cfg.Tool.OS != "win" || cfg.Tool.Architecture != "x64") {
				err = fmt.Errorf("%s got the %s-%s download", inst.Name, cfg.Tool.OS, cfg.Tool.Architecture)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := sim.Stats().Calls(downloadsRoute); got != 1 {
		t.Fatalf("%d machines made %d download-list calls, want 1", n, got)
	}
	ep := "GET /repos/{owner}/{repo}/actions/runners/downloads"
	if got := counterValue(t, m, ep); got != 1 {
		t.Fatalf("forge_calls{endpoint=%q} = %v, want 1", ep, got)
	}

	// A failed bootstrap (a stale download URL or checksum is one cause)
	// drops the list: the next machine's config asks the forge again.
	first, _ := h.prov.spec(insts[0].Name)
	if err := h.ctl.Report(h.ctx, first.Token, core.RunnerFailed, "runner package sha256 does not match"); err != nil {
		t.Fatal(err)
	}
	last, _ := h.prov.spec(insts[n].Name)
	if _, err := h.ctl.RunnerConfigFor(h.ctx, last.Token); err != nil {
		t.Fatal(err)
	}
	if got := sim.Stats().Calls(downloadsRoute); got != 2 {
		t.Fatalf("after a failed bootstrap: %d download-list calls, want 2", got)
	}
}

func counterValue(t *testing.T, m *metrics.Metrics, endpoint string) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.ForgeCalls.WithLabelValues("sim", endpoint, "200").Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.Counter.GetValue()
}

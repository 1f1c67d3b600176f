package controller_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/store"
)

// runOneJob takes a machine through queued → online → job → removed.
func runOneJob(t *testing.T, h *harness, id int64) core.Instance {
	t.Helper()
	h.event("queued", id, []string{"linux"}, "")
	h.eventually("running", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	inst := h.instances(core.InstanceRunning)[0]
	spec, _ := h.prov.spec(inst.Name)
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerInstalling, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token); err != nil {
		t.Fatal(err)
	}
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerIdle, ""); err != nil {
		t.Fatal(err)
	}
	h.event("in_progress", id, []string{"linux"}, inst.Name)
	h.eventually("runner active", func() bool {
		i, _ := h.st.GetInstance(h.ctx, inst.Name)
		return i.Runner == core.RunnerActive
	})
	h.event("completed", id, []string{"linux"}, inst.Name)
	h.eventually("instance deleted", func() bool {
		i, _ := h.st.GetInstance(h.ctx, inst.Name)
		return i.State == core.InstanceDeleted
	})
	return inst
}

func withPrices(t core.PriceTable, m *metrics.Metrics) harnessOpt {
	return func(o *controller.Options) { o.Prices, o.Metrics = &t, m }
}

func TestRemovedMachineRecordsUsage(t *testing.T) {
	m := metrics.New()
	p := pool("linux", "linux")
	p.Flavor = "small"
	h := newHarness(t, []core.Pool{p}, withPrices(core.PriceTable{Currency: "USD",
		Prices:    []core.Price{{Provider: "mem", Flavor: "small", PerMinute: 0.5, StartFee: 0.25}},
		Reference: core.GitHubHostedPrices()}, m))
	inst := runOneJob(t, h, 5)
	us, err := h.st.ListUsage(h.ctx, store.UsageFilter{})
	if err != nil || len(us) != 1 {
		t.Fatalf("usage = %+v, %v; want one record", us, err)
	}
	u := us[0]
	if u.Instance != inst.Name || u.JobID != 5 || u.Provider != "mem" || u.Flavor != "small" || u.Note != "" ||
		u.TenantID != core.DefaultTenant || u.EntityID != h.entity.ID {
		t.Fatalf("usage = %+v", u)
	}
	if u.RunSeconds <= 0 || u.Cost < 0.25 || u.ReferenceCost != 0.008 {
		t.Fatalf("usage = %+v: want run time, the start fee at least and one reference minute", u)
	}
	if got := usageCounter(t, m.Usage.Cost.WithLabelValues(core.DefaultTenant, "linux")); got != u.Cost {
		t.Fatalf("cost counter = %v, want %v", got, u.Cost)
	}
}

func TestRemovedMachineWithoutPriceIsReportedNotZero(t *testing.T) {
	m := metrics.New()
	p := pool("linux", "linux")
	p.Flavor = "unpriced"
	h := newHarness(t, []core.Pool{p}, withPrices(core.PriceTable{Currency: "USD",
		Prices: []core.Price{{Provider: "mem", Flavor: "small", PerMinute: 0.5}}}, m))
	runOneJob(t, h, 6)
	us, err := h.st.ListUsage(h.ctx, store.UsageFilter{})
	if err != nil || len(us) != 1 {
		t.Fatalf("usage = %+v, %v", us, err)
	}
	if !strings.Contains(us[0].Note, `"unpriced"`) {
		t.Fatalf("missing price not noted: %+v", us[0])
	}
	if got := usageCounter(t, m.Usage.MissingPrice.WithLabelValues("mem", "unpriced")); got != 1 {
		t.Fatalf("missing price counter = %v, want 1", got)
	}
}

func usageCounter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// A tenant over its hard monthly budget gets no new machine: the job waits
// with the note, read from the usage records (the scheduler stays pure).
func TestTenantOverHardBudgetWaits(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	u := core.Usage{Instance: "old", PoolID: "p", TenantID: "t-acme", RunSeconds: 150, EndedAt: time.Now()}
	if _, err := h.st.RecordUsage(h.ctx, &u); err != nil {
		t.Fatal(err)
	}
	tn := core.Tenant{ID: "t-acme", Name: "acme", Weight: 1, Entities: []string{h.entity.ID},
		BudgetMinutes: 2, BudgetMode: core.BudgetHard}
	if err := h.st.CreateTenant(h.ctx, &tn); err != nil {
		t.Fatal(err)
	}
	h.event("queued", 9, []string{"linux"}, "")
	h.eventually("budget note", func() bool {
		j, err := h.st.GetJob(h.ctx, h.entity.ID, 9)
		return err == nil && j.Note == `tenant "acme" over its monthly budget (2 of 2 machine-minutes)`
	})
	if c, _ := h.prov.counts(); c != 0 {
		t.Fatalf("%d creates for a tenant over its hard budget", c)
	}
}

package controller_test

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// lockedBuf collects log lines from several goroutines.
type lockedBuf struct{ testutil.SyncBuffer }

func (l *lockedBuf) count(s string) int { return strings.Count(l.String(), s) }

func gauge(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var d dto.Metric
	if err := g.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetGauge().GetValue()
}

// A provider that fails every create (quota exceeded, broken image) is not
// called in a loop: the pool backs off, says why it fails (API data, metric,
// one log line) and recovers by itself once a create succeeds again.
func TestFailingPoolBacksOffShowsWhyAndRecovers(t *testing.T) {
	logs := &lockedBuf{}
	m := metrics.New()
	h := newHarness(t, []core.Pool{pool("linux", "linux")}, func(o *controller.Options) {
		o.Metrics = m
		o.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs, testLog(t)), nil))
	})
	quota := errors.New("instance quota exceeded: 0 of 0 left")
	h.prov.mu.Lock()
	h.prov.failCreate = func(string, int) error { return quota }
	h.prov.mu.Unlock()
	pools, _ := h.st.ListPools(h.ctx)
	poolID := pools[0].ID

	h.event("queued", 31, []string{"linux"}, "")
	h.event("queued", 32, []string{"linux"}, "")
	// Three steps of backoff take 1 s + 2 s: a provider called in a loop
	// would have seen dozens of creates by then.
	h.eventually("pool failing for the third time", func() bool { return h.ctl.PoolHealth()[poolID].Failures >= 3 })
	if c, _ := h.prov.counts(); c > 4 {
		t.Fatalf("%d creates by the third failure; want at most 4 (the jobs' first creates, then one probe per pause)", c)
	}
	hl := h.ctl.PoolHealth()[poolID]
	if !strings.Contains(hl.LastError, "quota exceeded") || hl.Since.IsZero() || !hl.NextCreateAt.After(hl.Since) {
		t.Fatalf("pool health = %+v", hl)
	}
	if v := gauge(t, m.PoolFailing.WithLabelValues("linux")); v != 1 {
		t.Fatalf("paddock_pool_failing = %v, want 1", v)
	}
	if v := gauge(t, m.PoolCreateFailures.WithLabelValues("linux")); v < 3 {
		t.Fatalf("paddock_pool_create_failures = %v, want >= 3", v)
	}
	if n := logs.count("pool failing"); n != 1 {
		t.Fatalf(`"pool failing" logged %d times, want once`, n)
	}
	h.eventually("jobs say why they wait", func() bool {
		j, err := h.st.GetJob(h.ctx, h.entity.ID, 32)
		return err == nil && strings.Contains(j.Note, "backing off")
	})

	// The quota is raised: the next probe succeeds and the pool catches up.
	h.prov.mu.Lock()
	h.prov.failCreate = nil
	h.prov.mu.Unlock()
	h.eventually("pool recovered, both jobs have a machine", func() bool {
		_, failing := h.ctl.PoolHealth()[poolID]
		return !failing && len(h.instances(core.InstanceRunning)) >= 2
	})
	if v := gauge(t, m.PoolFailing.WithLabelValues("linux")); v != 0 {
		t.Fatalf("paddock_pool_failing = %v after recovery, want 0", v)
	}
	if n := logs.count("pool recovered"); n != 1 {
		t.Fatalf(`"pool recovered" logged %d times, want once`, n)
	}
}

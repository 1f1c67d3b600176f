package api

import (
	"context"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

func TestUsageReport(t *testing.T) {
	h := newHarness(t, nil)
	h.seed()
	ctx := context.Background()
	p := h.pool("linux")
	day := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	for _, u := range []core.Usage{
		{Instance: "a", PoolID: p.ID, TenantID: core.DefaultTenant, EntityID: p.EntityID, JobID: 1,
			BootSeconds: 60, WaitSeconds: 60, RunSeconds: 600, Cost: 0.05, ReferenceCost: 0.08, Currency: "USD", EndedAt: day},
		{Instance: "b", PoolID: p.ID, TenantID: core.DefaultTenant, EntityID: p.EntityID,
			WaitSeconds: 1200, Cost: 0.1, Currency: "USD", EndedAt: day.Add(24 * time.Hour)},
		{Instance: "c", PoolID: p.ID, TenantID: core.DefaultTenant, EntityID: p.EntityID, JobID: 2,
			RunSeconds: 60, Note: "no price for provider \"local\" flavor \"x\"", EndedAt: day.Add(24 * time.Hour)},
	} {
		if _, err := h.st.RecordUsage(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	var rep UsageReport
	h.must(200, "GET", "/api/v1/usage?from=2026-11-01&to=2026-12-01&tenant=default", nil, &rep)
	if len(rep.Rows) != 1 {
		t.Fatalf("rows = %+v", rep.Rows)
	}
	r := rep.Rows[0]
	if r.Key != "default" || r.Machines != 3 || r.Jobs != 2 || r.RunMinutes != 11 || r.OverheadMinute != 20 ||
		r.Note == "" || r.Currency != "USD" {
		t.Fatalf("row = %+v", r)
	}
	if d := r.Saving - (0.08 - 0.15); d > 1e-9 || d < -1e-9 {
		t.Fatalf("saving = %v, want reference − cost", r.Saving)
	}
	h.must(200, "GET", "/api/v1/usage?from=2026-11-01&to=2026-12-01&group=day&pool=linux", nil, &rep)
	if len(rep.Rows) != 2 || rep.Rows[0].Key != "2026-11-03" || rep.Rows[1].Machines != 2 {
		t.Fatalf("by day = %+v", rep.Rows)
	}
	h.must(200, "GET", "/api/v1/usage?from=2026-11-01&to=2026-12-01&group=entity", nil, &rep)
	if len(rep.Rows) != 1 || rep.Rows[0].Key != "acme/app" {
		t.Fatalf("by entity = %+v", rep.Rows)
	}
	h.must(200, "GET", "/api/v1/usage?from=2026-11-04&to=2026-11-05", nil, &rep)
	if len(rep.Rows) != 1 || rep.Rows[0].Machines != 2 {
		t.Fatalf("window = %+v", rep.Rows)
	}
}

func TestUsageReportBadInput(t *testing.T) {
	h := newHarness(t, nil)
	h.seed()
	h.wantError(400, "GET", "/api/v1/usage?group=week", nil, `group "week" is unknown`)
	h.wantError(400, "GET", "/api/v1/usage?from=yesterday", nil, `from "yesterday"`)
	h.wantError(400, "GET", "/api/v1/usage?from=2026-12-01&to=2026-11-01", nil, "from must be before to")
	h.wantError(400, "GET", "/api/v1/usage?from=2020-01-01&to=2026-11-01", nil, "at most 366 days")
	h.wantError(404, "GET", "/api/v1/usage?tenant=ghost", nil, "ghost")
}

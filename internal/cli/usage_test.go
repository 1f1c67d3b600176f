package cli

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

func TestUsageCommand(t *testing.T) {
	e := newEnv(t)
	e.seed()
	ctx := context.Background()
	p, err := e.st.GetPool(ctx, "linux")
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(-time.Hour)
	for _, u := range []core.Usage{
		{Instance: "a", PoolID: p.ID, TenantID: core.DefaultTenant, EntityID: p.EntityID, JobID: 1,
			RunSeconds: 600, Cost: 0.05, ReferenceCost: 0.08, Currency: "USD", EndedAt: end},
		{Instance: "b", PoolID: p.ID, TenantID: core.DefaultTenant, EntityID: p.EntityID, JobID: 2,
			RunSeconds: 60, Note: "no price", EndedAt: end},
	} {
		if _, err := e.st.RecordUsage(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	out := e.ok("usage")
	if got := strings.Join(header(t, out), " "); !strings.HasPrefix(got, "TENANT MACHINES JOBS") || !strings.Contains(got, "SAVING") {
		t.Fatalf("header %q\n%s", got, out)
	}
	if !strings.Contains(out, "0.03") || !strings.Contains(out, "1 machine(s) without a price") {
		t.Fatalf("table lacks the saving or the missing-price note:\n%s", out)
	}
	recs, err := csv.NewReader(strings.NewReader(e.ok("usage", "--group", "pool", "-o", "csv"))).ReadAll()
	if err != nil || len(recs) != 2 || recs[0][0] != "pool" || recs[1][0] != "linux" || recs[1][9] != "0.03" {
		t.Fatalf("csv = %q, %v", recs, err)
	}
	if out := e.ok("usage", "-o", "json"); !strings.Contains(out, `"group_by": "tenant"`) {
		t.Fatalf("json:\n%s", out)
	}
	e.fails([]string{"pool", "list", "-o", "csv"}, "csv: paddock usage only")
	e.fails([]string{"usage", "--group", "week"}, `group "week" is unknown`)
}

package ui_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

func TestUsagePageShowsPerTenantTable(t *testing.T) {
	srv, ps := dash(t)
	c, _, _ := client(t, srv, viewerToken)
	get := func() string {
		resp, err := c.Get(srv.URL + "/ui/usage")
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if body := get(); !strings.Contains(body, `id="no-usage"`) {
		t.Fatalf("empty usage page:\n%s", body)
	}
	ctx := context.Background()
	for _, u := range []core.Usage{
		{Instance: "a", PoolID: "p", TenantID: core.DefaultTenant, JobID: 1, RunSeconds: 600, Cost: 0.05,
			ReferenceCost: 0.08, Currency: "USD", EndedAt: time.Now().Add(-time.Hour)},
		{Instance: "b", PoolID: "p", TenantID: core.DefaultTenant, JobID: 2, RunSeconds: 60, Note: "no price",
			EndedAt: time.Now().Add(-time.Hour)},
	} {
		if _, err := ps.st.RecordUsage(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	body := get()
	for _, want := range []string{`id="usage"`, `data-tenant="default"`, `0.05 USD`, `<td class="num saving">0.03</td>`,
		"1 machine(s) without a price"} {
		if !strings.Contains(body, want) {
			t.Fatalf("usage page lacks %q:\n%s", want, body)
		}
	}
}

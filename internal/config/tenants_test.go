package config

import (
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
)

// Lines: minimal is 7 lines; the forge block 8-11, entities 12-14.
const sharingBase = minimal + `forges:
  - name: gh
    kind: github
    credential: {kind: pat, token: x}
entities:
  - {forge: gh, name: libfoo, intake: poll}
  - {forge: gh, name: libbar, intake: poll}
`

func TestTenantsConfig(t *testing.T) {
	setBaseEnv(t)
	src := sharingBase + `tenants:
  - {name: foo, entities: [libfoo], weight: 3, max_machines: 4, max_vcpu: 16, budget_minutes: 6000}
pools:
  - {name: shared, entity: libbar, provider: local, labels: [linux], max_runners: 8, tenants: ["*"]}
  - {name: two, entity: libbar, provider: local, labels: [linux], max_runners: 8, entities: [libfoo], tenants: [foo, default]}
  - {name: plain, entity: libbar, provider: local, labels: [linux], max_runners: 8}
`
	c := mustParse(t, strings.Replace(src, "    type: process\n", "    type: process\n    capacity: {max_machines: 10, vcpu: 32}\n", 1))
	tn := c.Tenants[0]
	if tn.Name != "foo" || tn.Weight != 3 || tn.MaxMachines != 4 || tn.MaxVCPU != 16 || tn.BudgetMinutes != 6000 {
		t.Fatalf("tenant %+v", tn)
	}
	if got := c.Pools[1].ToCore("id").Tenants; len(got) != 2 || got[0] != "foo" {
		t.Fatalf("pool tenants %v", got)
	}
	if c.Providers[0].Capacity == nil || c.Providers[0].Capacity.VCPU != 32 {
		t.Fatalf("capacity %+v", c.Providers[0].Capacity)
	}
	if p := c.Pools[2].ToCore("id"); p.Shared() {
		t.Fatalf("a single-entity pool became shared: %+v", p)
	}
	_ = core.DefaultTenant
}

func TestTenantsConfigErrors(t *testing.T) {
	setBaseEnv(t)
	for _, tc := range []struct{ name, src, want string }{
		{"unknown tenant in a pool", sharingBase + "pools:\n  - {name: p, entity: libbar, provider: local, max_runners: 1, tenants: [nope]}\n",
			`paddock.yaml:16: pools[0].tenants[0]: unknown tenant "nope" (declare it under tenants, or write "*" for all)`},
		{"unknown entity in a pool", sharingBase + "pools:\n  - {name: p, entity: libbar, provider: local, max_runners: 1, entities: [nope]}\n",
			`paddock.yaml:16: pools[0].entities[0]: unknown entity "nope" (declare it under entities)`},
		{"zero quota", sharingBase + "tenants:\n  - name: foo\n    max_machines: 0\n",
			`paddock.yaml:17: tenants[0].max_machines: must be at least 1, got 0; leave it out for no limit`},
		{"negative vcpu quota", sharingBase + "tenants:\n  - {name: foo, max_vcpu: -2}\n",
			`paddock.yaml:16: tenants[0].max_vcpu: must be at least 1, got -2; leave it out for no limit`},
		{"zero weight", sharingBase + "tenants:\n  - {name: foo, weight: 0}\n",
			`paddock.yaml:16: tenants[0].weight: must be at least 1, got 0`},
		{"entity in two tenants", sharingBase + "tenants:\n  - {name: a, entities: [libfoo]}\n  - {name: b, entities: [libfoo]}\n",
			`paddock.yaml:17: tenants[1].entities[0]: entity "libfoo" already belongs to the tenant at tenants[0] (line 16)`},
		{"unknown entity in a tenant", sharingBase + "tenants:\n  - {name: a, entities: [ghost]}\n",
			`paddock.yaml:16: tenants[0].entities[0]: unknown entity "ghost"`},
		{"bad budget mode", sharingBase + "tenants:\n  - {name: a, budget_minutes: 5, budget_mode: lax}\n",
			`tenants[0].budget_mode: unknown budget_mode "lax" (want hard or soft)`},
		{"zero capacity", strings.Replace(minimal, "    type: process\n", "    type: process\n    capacity: {vcpu: 0}\n", 1),
			`paddock.yaml:8: providers[0].capacity.vcpu: must be at least 1, got 0; leave it out for no limit`},
		{"shared scale set", sharingBase + "pools:\n  - {name: p, entity: libbar, provider: local, max_runners: 1, labels: [set], scale_set: true, tenants: [\"*\"]}\n",
			`pools[0].scale_set: a scale_set pool cannot be shared`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "paddock.yaml", t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

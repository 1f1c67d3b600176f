package check

import (
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
)

func TestTenant(t *testing.T) {
	only := func(f string) func(string) bool { return func(g string) bool { return g == f } }
	none := func(string) bool { return false }
	cases := []struct {
		name  string
		t     core.Tenant
		given func(string) bool
		field string // "" = valid
		msg   string
	}{
		{"defaults are valid", core.Tenant{Name: "libfoo"}, none, "", ""},
		{"zero weight written", core.Tenant{Name: "a", Weight: 0}, only("weight"), "weight", "at least 1"},
		{"negative weight", core.Tenant{Name: "a", Weight: -2}, none, "weight", "at least 1"},
		{"zero max_machines written", core.Tenant{Name: "a", Weight: 1}, only("max_machines"), "max_machines", "leave it out for no limit"},
		{"negative max_vcpu", core.Tenant{Name: "a", Weight: 1, MaxVCPU: -1}, none, "max_vcpu", "at least 1"},
		{"huge max_machines", core.Tenant{Name: "a", Weight: 1, MaxMachines: MaxRunnersLimit + 1}, none, "max_machines", "≤"},
		{"bad budget mode", core.Tenant{Name: "a", Weight: 1, BudgetMinutes: 10, BudgetMode: "maybe"}, none, "budget_mode", "hard or soft"},
		{"mode without budget", core.Tenant{Name: "a", Weight: 1, BudgetMode: core.BudgetSoft}, none, "budget_mode", "budget_minutes"},
		{"default tenant with entities", core.Tenant{Name: core.DefaultTenant, Weight: 1, Entities: []string{"e"}}, none, "entities", "default tenant"},
		{"entity twice", core.Tenant{Name: "a", Weight: 1, Entities: []string{"e", "e"}}, none, "entities[1]", "twice"},
		{"bad name", core.Tenant{Name: "a b", Weight: 1}, none, "name", "letters"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tn := c.t
			TenantDefaults(&tn, c.given)
			errs := Tenant(tn, c.given)
			if c.field == "" {
				if len(errs) != 0 {
					t.Fatalf("want valid, got %v", errs)
				}
				if tn.Weight != 1 {
					t.Fatalf("default weight %d, want 1", tn.Weight)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != c.field || !strings.Contains(errs[0].Message, c.msg) {
				t.Fatalf("got %v, want one error on %s containing %q", errs, c.field, c.msg)
			}
		})
	}
}

func TestPoolSharing(t *testing.T) {
	base := core.Pool{Name: "p", Provider: "x", EntityID: "home", OSType: "linux", Arch: "x64", MaxRunners: 1,
		Labels: []string{"linux"}, RunnerPrefix: "paddock", BootstrapTimeout: MinBootstrapTimeout}
	for _, c := range []struct {
		name  string
		edit  func(*core.Pool)
		field string
	}{
		{"star with others", func(p *core.Pool) { p.Tenants = []string{"*", "a"} }, "tenants[0]"},
		{"tenant twice", func(p *core.Pool) { p.Tenants = []string{"a", "a"} }, "tenants[1]"},
		{"bad tenant name", func(p *core.Pool) { p.Tenants = []string{"a/b"} }, "tenants[0]"},
		{"own entity listed", func(p *core.Pool) { p.Entities = []string{"home"} }, "entities[0]"},
		{"shared scale set", func(p *core.Pool) { p.Entities = []string{"x"}; p.ScaleSet = true; p.Labels = []string{"set"} }, "scale_set"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := base
			c.edit(&p)
			errs := Pool(p)
			if !errs.Has(c.field) {
				t.Fatalf("got %v, want an error on %s", errs, c.field)
			}
		})
	}
	if errs := Pool(base); len(errs) != 0 {
		t.Fatalf("base pool invalid: %v", errs)
	}
	ok := base
	ok.Tenants, ok.Entities = []string{"*"}, []string{"other"}
	if errs := Pool(ok); len(errs) != 0 {
		t.Fatalf("shared pool invalid: %v", errs)
	}
}

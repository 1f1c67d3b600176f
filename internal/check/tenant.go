package check

import (
	"github.com/paddock-ci/paddock/internal/core"
)

// Bounds of tenant fields: weights are ratios, and machines × weight must
// not overflow in fair-share arithmetic.
const (
	MaxTenantWeight   = 1000
	MaxTenantVCPU     = 1_000_000
	MaxBudgetMinutes  = 100_000_000
	maxTenantEntities = 10_000
)

// TenantDefaults fills what a tenant declaration left out: weight 1, and a
// hard budget when a budget is given without a mode. given reports whether
// the input wrote a field (by key), as for PoolDefaults.
func TenantDefaults(t *core.Tenant, given func(field string) bool) {
	if !given("weight") && t.Weight == 0 {
		t.Weight = 1
	}
	if t.BudgetMinutes > 0 && t.BudgetMode == "" {
		t.BudgetMode = core.BudgetHard
	}
	if t.Entities == nil {
		t.Entities = []string{}
	}
}

// Tenant checks a tenant's own fields (after TenantDefaults). A quota left
// out (0) means no limit; one written must be at least 1, so that "0" is
// never mistaken for "nothing may run" or for "no limit". Whether its
// entities exist is the caller's to check.
func Tenant(t core.Tenant, given func(field string) bool) Errors {
	var e Errors
	e.name("name", t.Name)
	if t.Name == core.DefaultTenant && len(t.Entities) > 0 {
		e.add("entities", "the default tenant holds every entity no other tenant lists; it takes no entities of its own")
	}
	if t.Weight < 1 {
		e.add("weight", "must be at least 1, got %d (weights are shares relative to other tenants)", t.Weight)
	} else if t.Weight > MaxTenantWeight {
		e.add("weight", "must be ≤ %d", MaxTenantWeight)
	}
	for _, q := range []struct {
		field    string
		v, limit int
	}{{"max_machines", t.MaxMachines, MaxRunnersLimit}, {"max_vcpu", t.MaxVCPU, MaxTenantVCPU},
		{"budget_minutes", t.BudgetMinutes, MaxBudgetMinutes}} {
		switch {
		case q.v < 1 && (q.v != 0 || given(q.field)):
			e.add(q.field, "must be at least 1, got %d; leave it out for no limit", q.v)
		case q.v > q.limit:
			e.add(q.field, "must be ≤ %d", q.limit)
		}
	}
	switch t.BudgetMode {
	case "", core.BudgetHard, core.BudgetSoft:
	default:
		e.add("budget_mode", "unknown budget_mode %q (want hard or soft)", t.BudgetMode)
	}
	if t.BudgetMode != "" && t.BudgetMinutes == 0 {
		e.add("budget_mode", "set budget_minutes too (the monthly machine-minutes the mode applies to)")
	}
	if len(t.Entities) > maxTenantEntities {
		e.add("entities", "lists %d entities; at most %d", len(t.Entities), maxTenantEntities)
	}
	seen := map[string]bool{}
	for i, ent := range t.Entities {
		if seen[ent] {
			e.add("entities["+itoa(i)+"]", "entity %q is listed twice", ent)
		}
		seen[ent] = true
	}
	return e
}

// poolSharing checks a pool's Entities and Tenants lists.
func (e *Errors) poolSharing(p core.Pool) {
	seen := map[string]bool{}
	for i, t := range p.Tenants {
		f := "tenants[" + itoa(i) + "]"
		switch {
		case seen[t]:
			e.add(f, "tenant %q is listed twice", t)
		case t == core.AllTenants:
			if len(p.Tenants) > 1 {
				e.add(f, `"*" already means every tenant: list nothing else`)
			}
		default:
			e.name(f, t)
		}
		seen[t] = true
	}
	seen = map[string]bool{}
	for i, ent := range p.Entities {
		if seen[ent] || ent == p.EntityID && ent != "" {
			e.add("entities["+itoa(i)+"]", "entity %q is listed twice (the pool's own entity is always served)", ent)
		}
		seen[ent] = true
	}
	if p.ScaleSet && p.Shared() {
		e.add("scale_set", "a scale_set pool cannot be shared: GitHub binds a scale set to one entity")
	}
}

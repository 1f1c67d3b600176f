package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
)

// TenantConfig seeds a core.Tenant (docs/sharing.md). Quotas left out mean
// no limit.
type TenantConfig struct {
	Name string `yaml:"name"`
	// Entities are entity names as declared under entities (FORGE:NAME when
	// the name is declared on several forges).
	Entities      []string        `yaml:"entities"`
	Weight        int             `yaml:"weight"`
	MaxMachines   int             `yaml:"max_machines"`
	MaxVCPU       int             `yaml:"max_vcpu"`
	BudgetMinutes int             `yaml:"budget_minutes"`
	BudgetMode    core.BudgetMode `yaml:"budget_mode"`
}

// CapacityConfig is a provider's capacity (scheduler.Capacity); 0 = no limit.
type CapacityConfig struct {
	MaxMachines int `yaml:"max_machines"`
	VCPU        int `yaml:"vcpu"`
	MemoryMB    int `yaml:"memory_mb"`
}

// ToCore converts a tenant seed whose entities have the ids entityIDs.
func (t TenantConfig) ToCore(entityIDs []string) core.Tenant {
	return core.Tenant{Name: t.Name, Entities: entityIDs, Weight: t.Weight, MaxMachines: t.MaxMachines,
		MaxVCPU: t.MaxVCPU, BudgetMinutes: t.BudgetMinutes, BudgetMode: t.BudgetMode}
}

// SplitEntityRef splits FORGE:NAME; a plain NAME has forge "".
func SplitEntityRef(ref string) (forge, name string) {
	if f, n, ok := strings.Cut(ref, ":"); ok {
		return f, n
	}
	return "", ref
}

func (v *validator) tenants() {
	names := map[string]string{}
	owner := map[string]string{} // entity ref -> path of the tenant listing it
	for i, tc := range v.c.Tenants {
		path := fmt.Sprintf("tenants[%d]", i)
		v.name(path, tc.Name, names)
		given := func(field string) bool { return v.p.set[path+"."+field] }
		t := tc.ToCore(slices.Clone(tc.Entities))
		check.TenantDefaults(&t, given)
		for _, fe := range check.Tenant(t, given) {
			if fe.Field != "name" {
				v.p.at(path+"."+fe.Field, "%s", fe.Message)
			}
		}
		for j, ref := range tc.Entities {
			ep := fmt.Sprintf("%s.entities[%d]", path, j)
			if !v.entityRef(ep, ref) {
				continue
			}
			if first := owner[ref]; first != "" && first != path {
				v.p.at(ep, "entity %q already belongs to the tenant at %s (line %d): an entity has one tenant",
					ref, first, v.p.lineOf(first))
				continue
			}
			owner[ref] = path
		}
	}
}

// entityRef checks a reference to a declared entity (when the file declares
// any: otherwise it may name one already in the store).
func (v *validator) entityRef(path, ref string) bool {
	forge, name := SplitEntityRef(ref)
	if name == "" {
		v.p.at(path, "empty entity name")
		return false
	}
	if len(v.c.Entities) == 0 {
		return true
	}
	switch n := len(v.c.matchEntities(PoolConfig{Entity: name, Forge: forge})); {
	case n == 0:
		v.p.at(path, "unknown entity %q (declare it under entities)", ref)
		return false
	case n > 1:
		v.p.at(path, "entity %q is declared on several forges: write FORGE:%s", name, name)
		return false
	}
	return true
}

// poolSharing checks a pool's entities and tenants references.
func (v *validator) poolSharing(path string, pl PoolConfig) {
	for j, ref := range pl.Entities {
		v.entityRef(fmt.Sprintf("%s.entities[%d]", path, j), ref)
	}
	for j, name := range pl.Tenants {
		if name == core.AllTenants || name == core.DefaultTenant || !nameRE.MatchString(name) {
			continue // check.Pool reports bad names
		}
		if !slices.ContainsFunc(v.c.Tenants, func(t TenantConfig) bool { return t.Name == name }) {
			v.p.at(fmt.Sprintf("%s.tenants[%d]", path, j), "unknown tenant %q (declare it under tenants, or write \"*\" for all)", name)
		}
	}
}

func (v *validator) capacity(path string, c *CapacityConfig) {
	if c == nil {
		return
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"max_machines", c.MaxMachines}, {"vcpu", c.VCPU}, {"memory_mb", c.MemoryMB}} {
		k := path + ".capacity." + f.key
		if f.v < 0 || (f.v == 0 && v.p.set[k]) {
			v.p.at(k, "must be at least 1, got %d; leave it out for no limit", f.v)
		}
	}
}

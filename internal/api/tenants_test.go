package api

import (
	"testing"
)

func TestTenantsAPI(t *testing.T) {
	h := newHarness(t, nil)
	h.seed()
	h.must(201, "POST", "/api/v1/entities", map[string]any{"forge": "github", "name": "acme/lib"}, nil)
	before := h.notify.Load()
	var v TenantView
	h.must(201, "POST", "/api/v1/tenants", map[string]any{"name": "acme", "entities": []string{"acme/app"},
		"weight": 2, "max_machines": 4}, &v)
	if v.Weight != 2 || v.MaxMachines != 4 || len(v.Entities) != 1 || v.EntityNames[0] != "acme/app" {
		t.Fatalf("created %+v", v)
	}
	// Raising a quota notifies the controller, which releases waiting jobs.
	h.must(200, "PATCH", "/api/v1/tenants/acme", map[string]any{"max_machines": 6}, &v)
	if v.MaxMachines != 6 || v.Weight != 2 {
		t.Fatalf("patched %+v", v)
	}
	if n := h.notify.Load() - before; n != 2 {
		t.Fatalf("Notify called %d times, want 2", n)
	}
	var list []TenantView
	h.must(200, "GET", "/api/v1/tenants", nil, &list)
	if len(list) != 1 || list[0].Name != "acme" {
		t.Fatalf("list %+v", list)
	}

	// Bad input: the same checks as the config file, with field names.
	h.wantError(400, "POST", "/api/v1/tenants", map[string]any{"name": "z", "max_machines": 0},
		"max_machines: must be at least 1, got 0; leave it out for no limit")
	h.wantError(400, "POST", "/api/v1/tenants", map[string]any{"name": "z", "weight": -1}, "weight: must be at least 1")
	h.wantError(400, "POST", "/api/v1/tenants", map[string]any{"name": "z", "max_vcpu": -4}, "max_vcpu: must be at least 1")
	h.wantError(400, "POST", "/api/v1/tenants", map[string]any{"name": "z", "entities": []string{"ghost/x"}},
		`entities[0]: entity "ghost/x" does not exist`)
	h.wantError(409, "POST", "/api/v1/tenants", map[string]any{"name": "z", "entities": []string{"acme/app"}},
		"already belongs to tenant")
	h.wantError(400, "PATCH", "/api/v1/tenants/acme", map[string]any{"weight": 0}, "weight: must be at least 1")

	// Shared pools: tenants must exist; "*" always does.
	h.wantError(400, "POST", "/api/v1/pools", map[string]any{"name": "s", "entity": "acme/lib", "provider": "local",
		"labels": []string{"linux"}, "tenants": []string{"nope"}}, `tenants[0]: tenant "nope" does not exist`)
	h.must(201, "POST", "/api/v1/pools", map[string]any{"name": "s", "entity": "acme/lib", "provider": "local",
		"labels": []string{"linux"}, "tenants": []string{"acme"}, "entities": []string{"acme/app"}}, nil)
	if p := h.pool("s"); len(p.Tenants) != 1 || len(p.Entities) != 1 || p.Entities[0] == "acme/app" {
		t.Fatalf("shared pool stored %+v (entities must be ids)", p)
	}
	h.wantError(400, "PATCH", "/api/v1/pools/linux", map[string]any{"tenants": []string{"ghost"}}, `tenant "ghost" does not exist`)
	h.wantError(409, "DELETE", "/api/v1/tenants/acme", nil, `used by pool "s"`)
	h.must(200, "PATCH", "/api/v1/pools/s", map[string]any{"tenants": []string{"*"}}, nil)
	h.must(204, "DELETE", "/api/v1/tenants/acme", nil, nil)
	h.wantError(404, "GET", "/api/v1/tenants/acme", nil, `tenant "acme" not found`)
}

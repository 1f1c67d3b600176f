package cli

import (
	"context"
	"strings"
	"testing"
)

func TestTenantCommands(t *testing.T) {
	e := newEnv(t)
	e.seed()
	out := e.ok("tenant", "create", "--name", "acme", "--entities", "acme/app", "--weight", "2", "--max-machines", "4")
	if !strings.Contains(out, "Max machines:") || !strings.Contains(out, "acme/app") {
		t.Fatalf("create output:\n%s", out)
	}
	e.ok("tenant", "update", "acme", "--max-vcpu", "16")
	tn, err := e.st.GetTenant(context.Background(), "acme")
	if err != nil || tn.Weight != 2 || tn.MaxMachines != 4 || tn.MaxVCPU != 16 {
		t.Fatalf("stored %+v, %v", tn, err)
	}
	if got := strings.Join(header(t, e.ok("tenant", "list")), " "); got != "NAME WEIGHT MAX MACHINES MAX VCPU ENTITIES AGE" {
		t.Fatalf("list header %q", got)
	}
	// Refused before anything is sent, naming the flag.
	e.fails([]string{"tenant", "create", "--name", "z", "--max-machines", "0"}, "--max-machines: must be at least 1", "nothing was sent")
	e.fails([]string{"tenant", "update", "acme", "--weight", "0"}, "--weight: must be at least 1")
	// Shared pools.
	e.ok("pool", "update", "linux", "--tenants", "acme")
	if out := e.ok("pool", "show", "linux"); !strings.Contains(out, "Shared with:") || !strings.Contains(out, "tenants acme") {
		t.Fatalf("pool show:\n%s", out)
	}
	e.fails([]string{"tenant", "delete", "acme"}, `used by pool "linux"`)
}

package storetest

import (
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

func testTenants(t *testing.T, s store.Store) {
	f := newForge(t, s, "gh")
	a := newEntity(t, s, f.ID, "foo/a")
	b := newEntity(t, s, f.ID, "foo/b")
	tn := core.Tenant{Name: "libfoo", Entities: []string{a.ID}, Weight: 2, MaxMachines: 4, MaxVCPU: 16,
		BudgetMinutes: 600, BudgetMode: core.BudgetSoft}
	must(t, s.CreateTenant(ctx(t), &tn))
	if tn.ID == "" || tn.CreatedAt.IsZero() {
		t.Fatalf("create did not fill id/timestamps: %+v", tn)
	}
	for _, ref := range []string{tn.ID, "libfoo"} {
		got, err := s.GetTenant(ctx(t), ref)
		must(t, err)
		if got.Weight != 2 || got.MaxMachines != 4 || got.MaxVCPU != 16 || got.BudgetMode != core.BudgetSoft ||
			len(got.Entities) != 1 || got.Entities[0] != a.ID {
			t.Fatalf("get %s: %+v", ref, got)
		}
	}
	_, err := s.GetTenant(ctx(t), "nope")
	wantErr(t, err, store.ErrNotFound, "get missing")
	dup := core.Tenant{Name: "libfoo", Weight: 1}
	wantErr(t, s.CreateTenant(ctx(t), &dup), store.ErrConflict, "duplicate name")
	taken := core.Tenant{Name: "other", Weight: 1, Entities: []string{a.ID}}
	wantErr(t, s.CreateTenant(ctx(t), &taken), store.ErrConflict, "entity already in a tenant")
	ghost := core.Tenant{Name: "ghost", Weight: 1, Entities: []string{"no-such-entity"}}
	wantErr(t, s.CreateTenant(ctx(t), &ghost), store.ErrNotFound, "unknown entity")
	if list, _ := s.ListTenants(ctx(t)); len(list) != 1 {
		t.Fatalf("refused creates wrote something: %+v", list)
	}

	upd := tn
	upd.Entities = []string{a.ID, b.ID}
	upd.MaxMachines = 8
	must(t, s.UpdateTenant(ctx(t), &upd))
	got, _ := s.GetTenant(ctx(t), tn.ID)
	if got.MaxMachines != 8 || len(got.Entities) != 2 {
		t.Fatalf("update not stored: %+v", got)
	}
	sameTime(t, "created_at kept", got.CreatedAt, tn.CreatedAt)

	// A tenant a pool names can be neither renamed nor deleted.
	p := newPool(t, s, a.ID, "shared")
	p.Tenants = []string{"libfoo"}
	must(t, s.UpdatePool(ctx(t), &p))
	ren := got
	ren.Name = "renamed"
	wantErr(t, s.UpdateTenant(ctx(t), &ren), store.ErrConflict, "rename a named tenant")
	wantErr(t, s.DeleteTenant(ctx(t), "libfoo"), store.ErrConflict, "delete a named tenant")
	p.Tenants = nil
	must(t, s.UpdatePool(ctx(t), &p))
	must(t, s.DeleteTenant(ctx(t), "libfoo"))
	if list, _ := s.ListTenants(ctx(t)); len(list) != 0 {
		t.Fatalf("after delete: %+v", list)
	}
	wantErr(t, s.DeleteTenant(ctx(t), "libfoo"), store.ErrNotFound, "delete twice")
}

package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

func testForges(t *testing.T, s store.Store) {
	f := newForge(t, s, "github")
	if f.ID == "" || f.CreatedAt.IsZero() || !f.UpdatedAt.Equal(f.CreatedAt) {
		t.Fatalf("create did not fill id/timestamps: %+v", f)
	}
	for _, ref := range []string{f.ID, f.Name} {
		got, err := s.GetForge(ctx(t), ref)
		must(t, err)
		if got.ID != f.ID || got.WebhookSecret != "whsec-github" || got.Credential.Token != "ghp_github" ||
			got.APIURL != f.APIURL || got.Credential.Kind != core.CredentialPAT {
			t.Fatalf("get %s: %+v", ref, got)
		}
		sameTime(t, "created_at", got.CreatedAt, f.CreatedAt)
	}
	dup := core.Forge{Name: "github", Kind: core.ForgeGitea}
	wantErr(t, s.CreateForge(ctx(t), &dup), store.ErrConflict, "duplicate name")
	_, err := s.GetForge(ctx(t), "nope")
	wantErr(t, err, store.ErrNotFound, "get missing")

	given := core.Forge{ID: "my-id", Name: "gitea", Kind: core.ForgeGitea,
		Credential: core.Credential{Kind: core.CredentialApp, AppID: 7, InstallationID: 9, PrivateKeyPEM: "PEM"}}
	must(t, s.CreateForge(ctx(t), &given))
	if given.ID != "my-id" {
		t.Fatalf("caller's id replaced: %q", given.ID)
	}
	list, err := s.ListForges(ctx(t))
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("list: %d forges", len(list))
	}
	got, _ := s.GetForge(ctx(t), "my-id")
	if got.Credential != given.Credential {
		t.Fatalf("app credential: got %+v want %+v", got.Credential, given.Credential)
	}

	time.Sleep(time.Millisecond)
	upd := f
	upd.WebURL = "https://ghes/"
	upd.Credential.Token = "ghp_rotated"
	upd.CreatedAt = time.Time{} // the store keeps the original
	must(t, s.UpdateForge(ctx(t), &upd))
	got, _ = s.GetForge(ctx(t), f.ID)
	if got.WebURL != "https://ghes/" || got.Credential.Token != "ghp_rotated" {
		t.Fatalf("update not stored: %+v", got)
	}
	sameTime(t, "created_at kept", got.CreatedAt, f.CreatedAt)
	if !got.UpdatedAt.After(f.UpdatedAt) {
		t.Fatalf("updated_at not stamped: %v <= %v", got.UpdatedAt, f.UpdatedAt)
	}
	upd.Name = "gitea"
	wantErr(t, s.UpdateForge(ctx(t), &upd), store.ErrConflict, "rename onto taken name")
	missing := core.Forge{ID: "nope", Name: "x", Kind: core.ForgeGitHub}
	wantErr(t, s.UpdateForge(ctx(t), &missing), store.ErrNotFound, "update missing")

	must(t, s.DeleteForge(ctx(t), "gitea"))
	_, err = s.GetForge(ctx(t), "my-id")
	wantErr(t, err, store.ErrNotFound, "get deleted")
	wantErr(t, s.DeleteForge(ctx(t), "gitea"), store.ErrNotFound, "delete missing")
}

func testForgeDeleteReferenced(t *testing.T, s store.Store) {
	f := newForge(t, s, "gh")
	e := newEntity(t, s, f.ID, "octo/repo")
	wantErr(t, s.DeleteForge(ctx(t), f.ID), store.ErrConflict, "delete forge with entity")
	p := newPool(t, s, e.ID, "p")
	wantErr(t, s.DeleteEntity(ctx(t), e.ID), store.ErrConflict, "delete entity with pool")
	must(t, s.DeletePool(ctx(t), p.Name))
	must(t, s.DeleteEntity(ctx(t), e.ID))
	must(t, s.DeleteForge(ctx(t), f.Name))
	wantErr(t, s.DeleteEntity(ctx(t), e.ID), store.ErrNotFound, "delete missing entity")
}

func testEntities(t *testing.T, s store.Store) {
	f1, f2 := newForge(t, s, "one"), newForge(t, s, "two")
	bad := core.Entity{ForgeID: "nope", Kind: core.EntityRepository, Name: "a/b"}
	wantErr(t, s.CreateEntity(ctx(t), &bad), store.ErrNotFound, "entity on missing forge")

	e := newEntity(t, s, f1.ID, "octo/repo")
	if e.ID == "" || e.CreatedAt.IsZero() {
		t.Fatalf("create did not fill: %+v", e)
	}
	dup := core.Entity{ForgeID: f1.ID, Kind: core.EntityRepository, Name: "octo/repo"}
	wantErr(t, s.CreateEntity(ctx(t), &dup), store.ErrConflict, "duplicate entity")
	org := core.Entity{ForgeID: f1.ID, Kind: core.EntityOrganization, Name: "octo"}
	must(t, s.CreateEntity(ctx(t), &org))

	for _, ref := range []string{e.ID, "octo/repo"} {
		got, err := s.GetEntity(ctx(t), ref)
		must(t, err)
		if got.ID != e.ID || got.ForgeID != f1.ID || got.Intake != core.IntakeWebhook {
			t.Fatalf("get %s: %+v", ref, got)
		}
	}
	// The same name on another forge is allowed, but then the name alone is ambiguous.
	other := newEntity(t, s, f2.ID, "octo/repo")
	if _, err := s.GetEntity(ctx(t), "octo/repo"); err == nil {
		t.Fatal("ambiguous entity name resolved silently")
	}
	got, err := s.GetEntity(ctx(t), other.ID)
	must(t, err)
	if got.ForgeID != f2.ID {
		t.Fatalf("by id: %+v", got)
	}
	_, err = s.GetEntity(ctx(t), "missing")
	wantErr(t, err, store.ErrNotFound, "get missing entity")

	list, err := s.ListEntities(ctx(t))
	must(t, err)
	if len(list) != 3 {
		t.Fatalf("list: %d entities", len(list))
	}

	upd := org
	upd.Intake = core.IntakePoll
	must(t, s.UpdateEntity(ctx(t), &upd))
	got, _ = s.GetEntity(ctx(t), org.ID)
	if got.Intake != core.IntakePoll {
		t.Fatalf("update not stored: %+v", got)
	}
	sameTime(t, "created_at kept", got.CreatedAt, org.CreatedAt)
	upd.Kind, upd.Name = core.EntityRepository, "octo/repo"
	wantErr(t, s.UpdateEntity(ctx(t), &upd), store.ErrConflict, "rename entity onto taken name")
	gone := core.Entity{ID: "nope", ForgeID: f1.ID, Kind: core.EntityRepository, Name: "x/y"}
	wantErr(t, s.UpdateEntity(ctx(t), &gone), store.ErrNotFound, "update missing entity")
}

func testPools(t *testing.T, s store.Store) {
	f := newForge(t, s, "gh")
	e := newEntity(t, s, f.ID, "octo/repo")
	bad := core.Pool{Name: "x", EntityID: "nope"}
	wantErr(t, s.CreatePool(ctx(t), &bad), store.ErrNotFound, "pool on missing entity")

	p := core.Pool{Name: "big", EntityID: e.ID, Provider: "incus", Image: "img", Flavor: "f", OSType: "linux",
		Arch: "arm64", Labels: []string{"self-hosted", "arm64"}, MinIdle: 1, MaxRunners: 10, FreeTargetPercent: 20,
		Priority: 3, BootstrapTimeout: 7 * time.Minute, MaxJobRuntime: 6 * time.Hour, RunnerGroup: "g",
		RunnerPrefix: "pdk", Sizes: &core.SizeLimits{MaxCPU: 16, MaxMemoryGB: 64, MaxDiskGB: 200}, Enabled: true}
	must(t, s.CreatePool(ctx(t), &p))
	for _, ref := range []string{p.ID, "big"} {
		got, err := s.GetPool(ctx(t), ref)
		must(t, err)
		// Compare everything but the timestamps, whose representation may differ.
		got.CreatedAt, got.UpdatedAt = p.CreatedAt, p.UpdatedAt
		if !reflect.DeepEqual(got, p) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, p)
		}
	}
	dup := core.Pool{Name: "big", EntityID: e.ID}
	wantErr(t, s.CreatePool(ctx(t), &dup), store.ErrConflict, "duplicate pool name")
	_, err := s.GetPool(ctx(t), "nope")
	wantErr(t, err, store.ErrNotFound, "get missing pool")

	small := newPool(t, s, e.ID, "small")
	list, err := s.ListPools(ctx(t))
	must(t, err)
	eqStrings(t, "pool names", names(list, func(p core.Pool) string { return p.Name }), []string{"big", "small"})

	upd := small
	upd.MaxRunners, upd.Sizes = 99, nil
	must(t, s.UpdatePool(ctx(t), &upd))
	got, _ := s.GetPool(ctx(t), small.ID)
	if got.MaxRunners != 99 {
		t.Fatalf("update not stored: %+v", got)
	}
	upd.Name = "big"
	wantErr(t, s.UpdatePool(ctx(t), &upd), store.ErrConflict, "rename pool onto taken name")
	upd.Name, upd.EntityID = "small", "nope"
	wantErr(t, s.UpdatePool(ctx(t), &upd), store.ErrNotFound, "move pool to missing entity")
	gone := core.Pool{ID: "nope", Name: "zz", EntityID: e.ID}
	wantErr(t, s.UpdatePool(ctx(t), &gone), store.ErrNotFound, "update missing pool")
	wantErr(t, s.DeletePool(ctx(t), "nope"), store.ErrNotFound, "delete missing pool")
}

func testPoolDeleteReferenced(t *testing.T, s store.Store) {
	p := newChain(t, s)
	i := newInstance(t, s, p.ID, "runner-1")
	wantErr(t, s.DeletePool(ctx(t), p.ID), store.ErrConflict, "delete pool with pending instance")
	moveTo(t, s, i.ID, core.InstancePendingDelete, core.InstanceDeleting)
	wantErr(t, s.DeletePool(ctx(t), p.ID), store.ErrConflict, "delete pool with deleting instance")
	moveTo(t, s, i.ID, core.InstanceDeleted)
	must(t, s.DeletePool(ctx(t), p.ID))
	_, err := s.GetPool(ctx(t), p.ID)
	wantErr(t, err, store.ErrNotFound, "get deleted pool")
}

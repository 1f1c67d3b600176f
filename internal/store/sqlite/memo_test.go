package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// Listings reuse decoded rows only while the row is unchanged: an update,
// even one made behind the store's back, is seen at once, and a caller
// changing its copy changes nothing for the next caller.
func TestListingMemoFollowsRows(t *testing.T) {
	ctx := t.Context()
	s := openAt(t, filepath.Join(t.TempDir(), "paddock.db"))
	defer s.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	must(s.CreateForge(ctx, &f))
	e := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "o/r", Intake: core.IntakeWebhook}
	must(s.CreateEntity(ctx, &e))
	p := core.Pool{Name: "p", EntityID: e.ID, Provider: "x", Labels: []string{"l"}, MaxRunners: 1}
	must(s.CreatePool(ctx, &p))
	must(s.CreateInstance(ctx, &core.Instance{Name: "i", PoolID: p.ID, Labels: []string{"linux"}, TokenHash: "h1"}))
	list := func() core.Instance {
		t.Helper()
		is, err := s.ListInstances(ctx, store.InstanceFilter{Live: true})
		must(err)
		if len(is) != 1 {
			t.Fatalf("listed %d instances, want 1", len(is))
		}
		return is[0]
	}
	first := list()
	first.Labels[0] = "changed"
	if got := list(); got.Labels[0] != "linux" || got.TokenHash != "h1" {
		t.Fatalf("second listing = labels %v, token hash %q: a caller's change leaked into the memo", got.Labels, got.TokenHash)
	}
	_, err := s.UpdateInstance(ctx, "i", func(i *core.Instance) error { i.Fault = "boom"; i.TokenUsed = true; return nil })
	must(err)
	if got := list(); got.Fault != "boom" || !got.TokenUsed {
		t.Fatalf("after an update the listing shows fault %q, token used %v", got.Fault, got.TokenUsed)
	}
	_, err = s.w.ExecContext(ctx, `UPDATE instances SET data = json_set(data, '$.fault', 'outside') WHERE name = 'i'`)
	must(err)
	if got := list(); got.Fault != "outside" {
		t.Fatalf("a row changed behind the store's back lists with fault %q", got.Fault)
	}
}

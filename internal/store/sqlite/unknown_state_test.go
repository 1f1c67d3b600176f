package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
)

// An instance left in the removed "unknown" state is handed back to running
// by migration 5, column and JSON alike, so the state machine can move it on.
func TestMigrationRetiresUnknownState(t *testing.T) {
	ctx := t.Context()
	s := openAt(t, filepath.Join(t.TempDir(), "paddock.db"))
	defer s.Close()
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateForge(ctx, &f))
	e := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "o/r", Intake: core.IntakeWebhook}
	must(s.CreateEntity(ctx, &e))
	p := core.Pool{Name: "p", EntityID: e.ID, Provider: "x", Labels: []string{"l"}, MaxRunners: 1}
	must(s.CreatePool(ctx, &p))
	i := core.Instance{Name: "i", PoolID: p.ID}
	must(s.CreateInstance(ctx, &i))
	// As an older Paddock could have stored it.
	_, err := s.w.ExecContext(ctx, `UPDATE instances SET state = 'unknown', data = json_set(data, '$.state', 'unknown') WHERE name = 'i'`)
	must(err)
	_, err = s.w.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = 5`)
	must(err)
	if n, err := s.migrate(ctx); err != nil || n != 1 {
		t.Fatalf("migrate applied %d (err %v), want 1", n, err)
	}
	got, err := s.GetInstance(ctx, "i")
	must(err)
	var col string
	must(s.r.QueryRowContext(ctx, `SELECT state FROM instances WHERE name = 'i'`).Scan(&col))
	if got.State != core.InstanceRunning || col != string(core.InstanceRunning) {
		t.Fatalf("after migration: JSON state %q, column %q; want running", got.State, col)
	}
	if _, err := s.UpdateInstance(ctx, "i", func(in *core.Instance) error {
		in.State = core.InstancePendingDelete
		return nil
	}); err != nil {
		t.Fatalf("migrated instance cannot be retired: %v", err)
	}
}

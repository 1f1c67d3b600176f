package app_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/config"
)

// The config's tenants and shared pools reach the store with entity ids; a
// second start with an entity moved between tenants upserts without conflict.
func TestSeedTenantsAndSharedPools(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("T_ADMIN", "admin-token-0123456789abcdef0123456")
	t.Setenv("T_KEY", strings.Repeat("cd", 32))
	src := `server: {admin_token: env:T_ADMIN, listen: "127.0.0.1:0"}
store: {encryption_key: env:T_KEY}
state_dir: state
providers: [{name: local, type: process, capacity: {max_machines: 3}}]
forges: [{name: gh, kind: github, api_url: "http://127.0.0.1:1/", credential: {kind: pat, token: t}}]
entities:
  - {forge: gh, name: o/a, intake: poll}
  - {forge: gh, name: o/b, intake: poll}
tenants:
  - {name: ta, entities: [o/a, o/b], max_machines: 2}
  - {name: tb, entities: []}
pools:
  - {name: shared, entity: o/a, provider: local, labels: [x], max_runners: 4, entities: [o/b], tenants: [ta]}
`
	start := func(src string) *app.App {
		t.Helper()
		cfg, err := config.Parse([]byte(src), "paddock.yaml", dir)
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.New(context.Background(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	ctx := context.Background()
	a := start(src)
	b, err := a.Store.GetEntity(ctx, "o/b")
	must(t, err)
	p, err := a.Store.GetPool(ctx, "shared")
	must(t, err)
	if !slices.Equal(p.Entities, []string{b.ID}) || !slices.Equal(p.Tenants, []string{"ta"}) {
		t.Fatalf("shared pool stored %+v", p)
	}
	ta, err := a.Store.GetTenant(ctx, "ta")
	must(t, err)
	if len(ta.Entities) != 2 || ta.MaxMachines != 2 || ta.Weight != 1 {
		t.Fatalf("tenant stored %+v", ta)
	}
	a.Close()

	// tb now comes first and takes o/b from ta, which the store refuses
	// unless ta lets go of it first.
	a = start(strings.Replace(src, `  - {name: ta, entities: [o/a, o/b], max_machines: 2}
  - {name: tb, entities: []}`, `  - {name: tb, entities: [o/b]}
  - {name: ta, entities: [o/a], max_machines: 2}`, 1))
	defer a.Close()
	tb, err := a.Store.GetTenant(ctx, "tb")
	must(t, err)
	if !slices.Equal(tb.Entities, []string{b.ID}) {
		t.Fatalf("moved entity: tb = %+v", tb)
	}
}

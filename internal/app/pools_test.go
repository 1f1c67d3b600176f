package app_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
)

// A pool row the current rules refuse (here min_idle = max_runners = 10⁹,
// as an older API accepted) is disabled at start and reported, instead of
// reaching the scheduler; valid and already disabled pools are left alone.
func TestStartDisablesInvalidStoredPools(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("T_ADMIN", "admin-token-0123456789abcdef0123456")
	t.Setenv("T_KEY", strings.Repeat("cd", 32))
	cfg, err := config.Parse([]byte(`server: {admin_token: env:T_ADMIN, listen: "127.0.0.1:0"}
store: {encryption_key: env:T_KEY}
state_dir: state
providers: [{name: local, type: process}]
`), "paddock.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o700); err != nil {
		t.Fatal(err)
	}
	box, _ := secretbox.New(cfg.Store.Key())
	st, err := sqlite.Open(ctx, cfg.Store.Path, box)
	if err != nil {
		t.Fatal(err)
	}
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, APIURL: "http://127.0.0.1:1/", WebURL: "http://127.0.0.1:1/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	must(t, st.CreateForge(ctx, &f))
	e := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "o/r", Intake: core.IntakePoll}
	must(t, st.CreateEntity(ctx, &e))
	mk := func(name string, minIdle, maxRunners int, enabled bool, prefix string) {
		p := core.Pool{Name: name, EntityID: e.ID, Provider: "local", Labels: []string{"x"}, MinIdle: minIdle,
			MaxRunners: maxRunners, OSType: "linux", Arch: "x64", BootstrapTimeout: 600e9,
			RunnerPrefix: prefix, Enabled: enabled}
		must(t, st.CreatePool(ctx, &p))
	}
	mk("huge", 1e9, 1e9, true, "p")
	mk("fine", 0, 2, true, "p")
	mk("off", 1e9, 1e9, false, "p")
	// An older API stored no prefix and no image; the manager has always
	// read those as the defaults, so the pool is fine.
	mk("legacy", 0, 2, true, "")
	must(t, st.Close())

	var log strings.Builder
	a, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.MultiWriter(&log), nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Store.Close()
	for name, want := range map[string]bool{"huge": false, "fine": true, "off": false, "legacy": true} {
		p, err := a.Store.GetPool(ctx, name)
		must(t, err)
		if p.Enabled != want {
			t.Errorf("pool %s enabled=%v, want %v", name, p.Enabled, want)
		}
	}
	if !strings.Contains(log.String(), "pool=huge") || !strings.Contains(log.String(), "max_runners") ||
		strings.Contains(log.String(), "pool=off") {
		t.Errorf("log does not report exactly the disabled pool:\n%s", log.String())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

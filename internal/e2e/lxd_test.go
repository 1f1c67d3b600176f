package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider/lxd"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// lxdEnv points newEnv's manager at the real LXD daemon (set up by
// scripts/lxd-setup): the pool runs on the lxd provider, in a project of the
// test's own, and containers see the test's paddock binary at its own path.
// It skips where no daemon is (fails under CI=true).
func lxdEnv(t *testing.T, e *env, maxRunners int) lxd.Admin {
	t.Helper()
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	socket, image := env("PADDOCK_LXD_SOCKET", lxd.DefaultSocket), env("PADDOCK_LXD_IMAGE", "paddock-runner-debian12")
	d := lxd.NewAdmin(socket, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Check(ctx, image); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("LXD e2e test cannot run (CI=true, so this fails): %v; run scripts/lxd-setup as root", err)
		}
		t.Skipf("!!! LXD E2E TEST SKIPPED: %v (run scripts/lxd-setup as root)", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "pdk-e2e-" + hex.EncodeToString(b)
	if err := d.CreateProfile(ctx, name, "paddock e2e: the paddock binary",
		map[string]map[string]string{"paddock-bin": {"type": "disk", "source": binary, "path": binary, "readonly": "true"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.DeleteProfile(context.Background(), name) })
	if err := d.CreateProject(ctx, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 20; i++ {
			if d.DeleteProject(context.Background(), name) == nil {
				return
			}
			time.Sleep(time.Second)
		}
		t.Errorf("LXD project %s not deleted", name)
	})
	simHost := strings.TrimSuffix(strings.TrimPrefix(e.sim.URL(), "http://"), "/")
	cfg := fmt.Sprintf(`server:
  listen: %s
  admin_token: env:E2E_ADMIN_TOKEN
store:
  path: paddock.db
  encryption_key: env:E2E_KEY
state_dir: state
controller:
  reconcile_interval: 5s
  idle_grace: 2s
providers:
  - name: lxd
    type: lxd
    max_parallel: 4
    lxd: {socket: %q, project: %s, image: %s, network: %s, storage_pool: %s, profiles: [%s], forward: [%q]}
forges:
  - name: sim
    kind: github
    api_url: %s
    web_url: %s
    webhook_secret: env:E2E_HOOK
    credential: {kind: pat, token: env:E2E_PAT}
entities:
  - {forge: sim, kind: repository, name: %s}
pools:
  - {name: linux, entity: %s, provider: lxd, labels: [linux, x64], max_runners: %d, bootstrap_timeout: 3m}
`, e.addr, socket, name, image, env("PADDOCK_LXD_NETWORK", "paddockbr0"), env("PADDOCK_LXD_POOL", "paddock"), name, simHost,
		e.sim.URL(), e.sim.URL(), repo, repo, maxRunners)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return lxd.NewAdmin(socket, name)
}

// TestKill9WithLXDContainers kills `paddock serve` with SIGKILL while its
// containers are being created and run, and restarts it on the same store:
// every job still completes on its own runner, and every container the
// first manager made is adopted or deleted, so none is left in LXD.
func TestKill9WithLXDContainers(t *testing.T) {
	const jobs = 3
	e := newEnv(t, jobs)
	proj := lxdEnv(t, e, jobs)
	m := e.start()
	for i := range jobs {
		if _, err := e.sim.QueueJob(forgesim.JobSpec{Repo: repo, Labels: []string{"self-hosted", "linux"},
			Name: fmt.Sprintf("c%d", i), Command: "sleep 3"}); err != nil {
			t.Fatal(err)
		}
	}
	var atKill []string
	e.waitFor("containers being made", 2*time.Minute, func() bool {
		atKill, _ = proj.Names(context.Background())
		return len(atKill) >= 2
	})
	m.kill9()
	t.Logf("killed the manager with containers %v in LXD and %d/%d jobs done", atKill, e.completed(), jobs)
	e.start()
	e.waitFor("every job completed", 5*time.Minute, func() bool { return e.completed() == jobs })
	e.checkOneJobPerRunner()

	if code := e.api(http.MethodPatch, "/api/v1/pools/linux", map[string]any{"enabled": false}, nil); code != http.StatusOK {
		t.Fatalf("disable pool: HTTP %d", code)
	}
	e.waitFor("no live instance", 2*time.Minute, func() bool {
		var live []map[string]any
		return e.api(http.MethodGet, "/api/v1/instances", nil, &live) == http.StatusOK && len(live) == 0
	})
	var left []string
	if !testutil.Within(time.Minute, func() bool {
		var err error
		left, err = proj.Names(context.Background())
		return err == nil && len(left) == 0
	}) {
		t.Fatalf("containers left in LXD after every instance was deleted: %v (at the kill: %v)", left, atKill)
	}
	for _, n := range atKill {
		if slices.Contains(left, n) {
			t.Errorf("container %s from before the kill is still there", n)
		}
	}
	e.waitFor("no runner registration left at the forge", time.Minute, func() bool { return len(e.sim.Runners()) == 0 })
}

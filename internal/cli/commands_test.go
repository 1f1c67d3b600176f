package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/api"
	"github.com/paddock-ci/paddock/internal/core"
)

func TestForgeCommandsNeverShowSecrets(t *testing.T) {
	e := newEnv(t)
	e.seed()
	secretFile := filepath.Join(t.TempDir(), "hook")
	if err := os.WriteFile(secretFile, []byte("whsec_CLISECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.ok("forge", "update", "github", "--webhook-secret-file", secretFile)
	var all string
	for _, args := range [][]string{{"forge", "list"}, {"forge", "show", "github"}, {"-o", "json", "forge", "list"}, {"-o", "json", "forge", "show", "github"}} {
		all += e.ok(args...)
	}
	if strings.Contains(all, "CLISECRET") {
		t.Fatalf("secret shown:\n%s", all)
	}
	if !strings.Contains(all, "https://api.github.com/") || !strings.Contains(all, "Webhook secret:  set") {
		t.Fatalf("forge output lacks expected fields:\n%s", all)
	}
	// The store got the real secrets, trimmed of the file's newline.
	f, err := e.st.GetForge(context.Background(), "github")
	if err != nil {
		t.Fatal(err)
	}
	if f.Credential.Token != "ghp_CLISECRET" || f.WebhookSecret != "whsec_CLISECRET" {
		t.Fatalf("stored secrets: %+v", f)
	}
}

func TestForgeCreateFlagErrors(t *testing.T) {
	e := newEnv(t)
	e.fails([]string{"forge", "create", "--name", "g"}, "credential is required", "--token-env")
	e.fails([]string{"forge", "create", "--name", "g", "--token-env", "PADDOCK_NO_SUCH_VAR"}, "PADDOCK_NO_SUCH_VAR", "empty or unset")
	t.Setenv("T", "x")
	e.fails([]string{"forge", "create", "--name", "g", "--token-env", "T", "--app-id", "1"}, "not both")
	e.fails([]string{"forge", "create", "--name", "g", "--app-id", "1"}, "go together")
	e.fails([]string{"forge", "create", "--name", "g", "--kind", "gitea", "--token-env", "T"}, "only in the config file", "paddock forge --help")
	e.fails([]string{"forge", "create", "--token-env", "T"}, `"name" not set`)
	e.fails([]string{"forge", "update", "nope", "--api-url", "https://x/"}, `forge "nope" not found`, "paddock forge list")
	e.fails([]string{"forge", "update", "github"}, "nothing to change")
}

func TestPoolCommands(t *testing.T) {
	e := newEnv(t)
	e.seed()
	out := e.ok("pool", "list")
	if got := strings.Join(header(t, out), " "); got != "NAME ENTITY PROVIDER LABELS IDLE/MIN LIVE/MAX PRIORITY ENABLED STATUS" {
		t.Fatalf("pool header: %q", got)
	}
	if !strings.Contains(out, "linux") || !strings.Contains(out, "0/1") || !strings.Contains(out, "0/10") {
		t.Fatalf("pool row:\n%s", out)
	}
	if out := e.ok("pool", "show", "linux"); !strings.Contains(out, "Bootstrap timeout:  15m0s") {
		t.Fatalf("pool show:\n%s", out)
	}
	// JSON round trip: what the CLI reads back is what it set.
	p := decode[api.PoolView](t, e.ok("-o", "json", "pool", "show", "linux"))
	if time.Duration(p.BootstrapTimeout) != 15*time.Minute || p.Entity != "acme/app" || strings.Join(p.Labels, ",") != "linux,x64" {
		t.Fatalf("json: %+v", p)
	}
	e.ok("pool", "update", "linux", "--max-runners", "20", "--max-cpu", "8", "--max-memory-gb", "32")
	e.ok("pool", "update", "linux", "--max-cpu", "4", "--enabled=false")
	p = decode[api.PoolView](t, e.ok("-o", "json", "pool", "show", "linux"))
	if p.MaxRunners != 20 || p.MinIdle != 1 || p.Enabled || p.Sizes == nil || p.Sizes.MaxCPU != 4 || p.Sizes.MaxMemoryGB != 32 {
		t.Fatalf("after updates: %+v sizes %+v", p, p.Sizes)
	}
	list := decode[[]api.PoolView](t, e.ok("-o", "json", "pool", "list"))
	if len(list) != 1 {
		t.Fatalf("json list: %+v", list)
	}
	e.fails([]string{"pool", "create", "--name", "x", "--entity", "acme/app", "--provider", "local", "--labels", "a", "--min-idle", "5"},
		"--min-idle: must be ≤ max_runners (1)", "nothing was sent", "paddock pool create --help")
	e.fails([]string{"pool", "show", "nope"}, `pool "nope" not found`, "paddock pool list")
	e.fails([]string{"pool", "show"}, "expects the pool's name or id")
	e.fails([]string{"entity", "delete", "acme/app"}, "still used by pools: linux")
	e.ok("pool", "delete", "linux")
	if out := e.ok("entity", "delete", "acme/app"); !strings.Contains(out, "entity acme/app deleted") {
		t.Fatalf("delete output: %q", out)
	}
}

func TestEntityCommands(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.ok("entity", "create", "--forge", "github", "--name", "acme", "--intake", "poll")
	out := e.ok("entity", "list")
	if got := strings.Join(header(t, out), " "); got != "NAME KIND FORGE INTAKE AGE" {
		t.Fatalf("entity header: %q", got)
	}
	if !strings.Contains(out, "organization") || !strings.Contains(out, "poll") {
		t.Fatalf("entity list:\n%s", out)
	}
	e.ok("entity", "update", "acme/app", "--intake", "poll")
	ent := decode[api.EntityView](t, e.ok("-o", "json", "entity", "show", "acme/app"))
	if ent.Intake != core.IntakePoll || ent.Forge != "github" {
		t.Fatalf("entity: %+v", ent)
	}
	e.fails([]string{"entity", "create", "--forge", "nope", "--name", "x"}, `forge "nope" does not exist`)
}

func TestInstanceAndJobCommands(t *testing.T) {
	e := newEnv(t)
	e.seed()
	ctx := context.Background()
	pool, _ := e.st.GetPool(ctx, "linux")
	ent, _ := e.st.GetEntity(ctx, "acme/app")
	inst := core.Instance{Name: "linux-abc", PoolID: pool.ID, Labels: []string{"linux"}, Fault: "boot timed out"}
	if err := e.st.CreateInstance(ctx, &inst); err != nil {
		t.Fatal(err)
	}
	job := core.Job{ID: 42, EntityID: ent.ID, Repository: "acme/app", Name: "build", Labels: []string{"linux", "x64"},
		State: core.JobQueued, PoolID: pool.ID, Note: "waiting for a machine", QueuedAt: time.Now().Add(-time.Minute)}
	if _, err := e.st.UpsertJob(ctx, &job); err != nil {
		t.Fatal(err)
	}

	out := e.ok("instance", "list")
	if got := strings.Join(header(t, out), " "); got != "NAME POOL STATE RUNNER AGE JOB FAULT" {
		t.Fatalf("instance header: %q", got)
	}
	if !strings.Contains(out, "linux-abc") || !strings.Contains(out, "pending_create") || !strings.Contains(out, "boot timed out") {
		t.Fatalf("instance list:\n%s", out)
	}
	if out := e.ok("instance", "list", "--state", "running"); strings.Contains(out, "linux-abc") {
		t.Fatalf("state filter ignored:\n%s", out)
	}
	e.fails([]string{"instance", "list", "--state", "bogus"}, `state "bogus" is unknown`)
	if out := e.ok("instance", "show", "linux-abc"); !strings.Contains(out, "Pool:") || !strings.Contains(out, "linux") {
		t.Fatalf("instance show:\n%s", out)
	}
	if out := e.ok("instance", "delete", "linux-abc"); !strings.Contains(out, "being removed") {
		t.Fatalf("instance delete: %q", out)
	}
	e.mu.Lock()
	deleted := strings.Join(e.deleted, ",")
	e.mu.Unlock()
	if deleted != "linux-abc" {
		t.Fatalf("controller asked to delete %q", deleted)
	}

	out = e.ok("job", "list")
	if got := strings.Join(header(t, out), " "); got != "ID REPO NAME LABELS STATE POOL RUNNER WAIT NOTE" {
		t.Fatalf("job header: %q", got)
	}
	if !strings.Contains(out, "42") || !strings.Contains(out, "waiting for a machine") || !strings.Contains(out, "1m…") {
		t.Fatalf("job list:\n%s", out)
	}
	j := decode[api.JobView](t, e.ok("-o", "json", "job", "show", "42", "--entity", "acme/app"))
	if j.ID != 42 || j.Pool != "linux" {
		t.Fatalf("job show: %+v", j)
	}
	e.fails([]string{"job", "show", "7"}, "not found")
}

func TestConnectionAndAuthErrors(t *testing.T) {
	e := newEnv(t)
	var out, errb strings.Builder
	code := run(NewRoot(), []string{"--server", e.url, "--token", "wrong", "pool", "list"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "invalid admin token") || !strings.Contains(errb.String(), "PADDOCK_ADMIN_TOKEN") {
		t.Fatalf("wrong token: exit %d, stderr %s", code, errb.String())
	}
	errb.Reset()
	code = run(NewRoot(), []string{"--server", "http://127.0.0.1:1", "--token", token, "pool", "list"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "connection refused") || !strings.Contains(errb.String(), "paddock serve") {
		t.Fatalf("refused: exit %d, stderr %s", code, errb.String())
	}
	errb.Reset()
	code = run(NewRoot(), []string{"--server", e.url, "pool", "list"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "no admin token") {
		t.Fatalf("no token: exit %d, stderr %s", code, errb.String())
	}
	e.fails([]string{"-o", "yaml", "pool", "list"}, "table or json")

	// The environment supplies server and token when the flags are absent.
	t.Setenv("PADDOCK_URL", e.url)
	t.Setenv("PADDOCK_ADMIN_TOKEN", token)
	out.Reset()
	errb.Reset()
	if code := run(NewRoot(), []string{"pool", "list"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "NAME") {
		t.Fatalf("env config: exit %d, out %q, err %q", code, out.String(), errb.String())
	}
}

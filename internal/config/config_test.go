package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// testAdminToken is long enough for MinTokenLength.
const testAdminToken = "admin-secret-0123456789abcdef0123"

const testKeyHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// minimal is the smallest valid config; tests append to or edit it.
const minimal = `server:
  admin_token: env:T_ADMIN
store:
  encryption_key: env:T_KEY
providers:
  - name: local
    type: process
`

func setBaseEnv(t *testing.T) {
	t.Helper()
	t.Setenv("T_ADMIN", testAdminToken)
	t.Setenv("T_KEY", testKeyHex)
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse([]byte(src), "paddock.yaml", t.TempDir())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// parseErr parses src, which must fail, and returns the problems.
func parseErr(t *testing.T, src string) []Problem {
	t.Helper()
	_, err := Parse([]byte(src), "paddock.yaml", t.TempDir())
	if err == nil {
		t.Fatalf("Parse succeeded, want an error")
	}
	e, ok := AsError(err)
	if !ok {
		t.Fatalf("error is %T, want *Error: %v", err, err)
	}
	return e.Problems
}

// wantProblem checks that parsing src fails with a problem containing want.
func wantProblem(t *testing.T, name, src, want string) {
	t.Helper()
	var all []string
	for _, p := range parseErr(t, src) {
		if strings.Contains(p.String(), want) {
			return
		}
		all = append(all, p.String())
	}
	t.Errorf("%s: problems %q, want one containing %q", name, all, want)
}

func TestExampleFileLoads(t *testing.T) {
	t.Setenv("PADDOCK_ADMIN_TOKEN", testAdminToken)
	t.Setenv("PADDOCK_ENCRYPTION_KEY", testKeyHex)
	t.Setenv("GH_WEBHOOK_SECRET", "hook-secret")
	t.Setenv("GITHUB_TOKEN", "ghp_example")
	c, err := Load(filepath.Join("..", "..", "paddock.example.yaml"))
	if err != nil {
		t.Fatalf("example config does not load:\n%v", err)
	}
	if len(c.LiteralSecrets) != 0 {
		t.Errorf("example has literal secrets %v; it should teach references", c.LiteralSecrets)
	}
	if string(c.Server.AdminToken) != testAdminToken || string(c.Forges[0].Credential.Token) != "ghp_example" {
		t.Errorf("secrets not resolved from the environment: %+v", c.Server)
	}
	if len(c.Store.Key()) != 32 {
		t.Errorf("Key() = %d bytes, want 32", len(c.Store.Key()))
	}
	if len(c.Pools) != 1 || c.Pools[0].MaxRunners != 10 || c.Pools[0].Sizes == nil || c.Pools[0].Sizes.MaxCPU != 16 {
		t.Errorf("pools = %+v", c.Pools)
	}
	if e, ok := c.EntityOf(c.Pools[0]); !ok || e.Name != "acme/app" || e.Forge != "github" {
		t.Errorf("EntityOf(pool) = %+v, %v", e, ok)
	}
}

func TestDefaults(t *testing.T) {
	setBaseEnv(t)
	c := mustParse(t, minimal+`forges:
  - name: gh
    kind: github
    credential: {kind: pat, token: env:T_ADMIN}
entities:
  - {forge: gh, name: acme, intake: poll}
pools:
  - {name: p, entity: acme, provider: local, labels: [x]}
`)
	if c.Entities[0].Kind != core.EntityOrganization {
		t.Errorf("entity kind = %q, want organization inferred from the name", c.Entities[0].Kind)
	}
	want := ServerConfig{Listen: DefaultListen, PublicURL: "http://127.0.0.1:8080", AdminToken: testAdminToken,
		Limits: ServerLimits{MaxConnections: 4096, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: time.Minute,
			WriteTimeout: 2 * time.Minute, IdleTimeout: time.Minute, MaxHeaderKB: 64, UnauthenticatedBodyTimeout: 20 * time.Second,
			UnauthenticatedMemoryMB: 64, UnauthenticatedRequests: 64, WebhookMaxBodyMB: 25, MachineMaxBodyKB: 64,
			AuthFailuresPerMinute: 10, AuthFailuresPerMinuteTotal: 300}}
	if c.Server != want {
		t.Errorf("server = %#v, want %#v", c.Server, want)
	}
	if c.StateDir != DefaultStateDir || c.Store.Driver != "sqlite" || c.Store.Path != "/var/lib/paddock/paddock.db" {
		t.Errorf("state_dir/store = %q %+v", c.StateDir, c.Store)
	}
	wantCtl := ControllerConfig{ReconcileInterval: time.Minute, IdleGrace: 30 * time.Second, MaxCreateAttempts: 5, PollInterval: 5 * time.Minute,
		PollBudgetPerHour: 1200, Retention: RetentionConfig{Jobs: 7 * 24 * time.Hour, DeletedInstances: 14 * 24 * time.Hour, Deliveries: 72 * time.Hour}}
	if c.Controller != wantCtl {
		t.Errorf("controller = %+v, want %+v", c.Controller, wantCtl)
	}
	if c.Providers[0].MaxParallel != 8 {
		t.Errorf("max_parallel = %d, want 8", c.Providers[0].MaxParallel)
	}
	if f := c.Forges[0]; f.APIURL != DefaultGitHubAPIURL || f.WebURL != DefaultGitHubWebURL {
		t.Errorf("forge urls = %q %q", f.APIURL, f.WebURL)
	}
	p := c.Pools[0]
	if p.Image != "default" || p.OSType != "linux" || p.Arch != "x64" || p.BootstrapTimeout != 20*time.Minute ||
		p.MaxJobRuntime != 6*time.Hour || p.RunnerPrefix != "paddock" || !p.Enabled || p.MinIdle != 0 || p.MaxRunners != 1 {
		t.Errorf("pool defaults = %+v", p)
	}
}

func TestExplicitZeroValuesKept(t *testing.T) {
	setBaseEnv(t)
	c := mustParse(t, minimal+`controller: {idle_grace: 0s}
pools:
  - {name: p, entity: acme/app, provider: local, labels: [x], max_runners: 1, max_job_runtime: 0, enabled: false}
`)
	if c.Controller.IdleGrace != 0 {
		t.Errorf("idle_grace = %v, want 0 as written", c.Controller.IdleGrace)
	}
	if p := c.Pools[0]; p.MaxJobRuntime != 0 || p.Enabled {
		t.Errorf("max_job_runtime=%v enabled=%v, want 0 and false as written", p.MaxJobRuntime, p.Enabled)
	}
}

func TestPathsAndURLsNormalised(t *testing.T) {
	setBaseEnv(t)
	dir := t.TempDir()
	src := strings.Replace(minimal, "server:\n", "server:\n  listen: 0.0.0.0:9000\n", 1) + `    process: {work_dir: work}
state_dir: state
forges:
  - {name: ghes, kind: github, api_url: https://ghes.example/api/v3, credential: {kind: pat, token: x}}
`
	c, err := Parse([]byte(src), "paddock.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.PublicURL != "http://127.0.0.1:9000" {
		t.Errorf("public_url = %q; a wildcard listen host should become loopback", c.Server.PublicURL)
	}
	if c.StateDir != filepath.Join(dir, "state") || c.Store.Path != filepath.Join(dir, "state", "paddock.db") {
		t.Errorf("state_dir=%q store.path=%q, want relative to %s", c.StateDir, c.Store.Path, dir)
	}
	if c.Providers[0].Process.WorkDir != filepath.Join(dir, "work") {
		t.Errorf("work_dir = %q", c.Providers[0].Process.WorkDir)
	}
	if c.Forges[0].APIURL != "https://ghes.example/api/v3/" {
		t.Errorf("api_url = %q, want a trailing slash added", c.Forges[0].APIURL)
	}
	if !reflect.DeepEqual(c.LiteralSecrets, []string{"forges[0].credential.token"}) {
		t.Errorf("LiteralSecrets = %v", c.LiteralSecrets)
	}
}

func TestSecretReferences(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin.txt"), []byte("  from-file-0123456789abcdef0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(abs, []byte(testKeyHex+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := "server: {admin_token: file:admin.txt}\nstore: {encryption_key: file:" + abs + "}\n" +
		"providers: [{name: local, type: process}]\n"
	c, err := Parse([]byte(src), "paddock.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Server.AdminToken) != "from-file-0123456789abcdef0123456789" {
		t.Errorf("admin_token = %q, want the file's trimmed contents", string(c.Server.AdminToken))
	}
	if len(c.LiteralSecrets) != 0 {
		t.Errorf("LiteralSecrets = %v, want none", c.LiteralSecrets)
	}

	t.Setenv("T_KEY", testKeyHex)
	c, err = Parse([]byte("server: {admin_token: hunter2-0123456789abcdef0123456789}\nstore: {encryption_key: env:T_KEY}\nproviders: [{name: l, type: process}]\n"), "p.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Server.AdminToken) != "hunter2-0123456789abcdef0123456789" || !reflect.DeepEqual(c.LiteralSecrets, []string{"server.admin_token"}) {
		t.Errorf("literal: token=%q LiteralSecrets=%v", string(c.Server.AdminToken), c.LiteralSecrets)
	}
}

func TestSecretNotPrinted(t *testing.T) {
	s := ServerConfig{AdminToken: "hunter2"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(format, s); strings.Contains(out, "hunter2") {
			t.Errorf("%s printed the secret: %s", format, out)
		}
	}
}

func TestEncryptionKeyForms(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{testKeyHex, true},
		{"ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=", true}, // std base64 of 32 bytes
		{"ABEiM0RVZneImaq7zN3u_wARIjNEVWZ3iJmqu8zd7v8", true},  // raw URL base64
		{"c2hvcnQ=", false}, // 5 bytes
		{"not a key!", false},
		{testKeyHex[:62] + "zz", false}, // not hex, and base64 of the wrong size
	} {
		k, err := decodeKey(tc.key)
		if tc.ok != (err == nil) || (tc.ok && len(k) != 32) {
			t.Errorf("decodeKey(%q) = %d bytes, %v; want ok=%v", tc.key, len(k), err, tc.ok)
		}
	}
}

func TestMergeKeysAndAnchors(t *testing.T) {
	setBaseEnv(t)
	c := mustParse(t, minimal+`pools:
  - &base {name: a, entity: acme/app, provider: local, max_runners: 4, labels: [linux]}
  - <<: *base
    name: b
    max_runners: 2
`)
	if len(c.Pools) != 2 || c.Pools[1].Name != "b" || c.Pools[1].MaxRunners != 2 || c.Pools[1].Labels[0] != "linux" {
		t.Errorf("pools = %+v", c.Pools)
	}
}

func TestToCore(t *testing.T) {
	setBaseEnv(t)
	c := mustParse(t, minimal+`forges:
  - {name: gh, kind: github, webhook_secret: env:T_ADMIN, credential: {kind: pat, token: env:T_KEY}}
entities:
  - {forge: gh, kind: repository, name: acme/app}
pools:
  - {name: p, entity: acme/app, provider: local, max_runners: 5, min_idle: 1, labels: [linux, x64],
     runner_group: ci, priority: 3, sizes: {max_cpu: 8, max_memory_gb: 32, max_disk_gb: 100}}
`)
	f := c.Forges[0].ToCore()
	if f.Name != "gh" || f.Kind != core.ForgeGitHub || f.WebhookSecret != testAdminToken ||
		f.Credential != (core.Credential{Kind: core.CredentialPAT, Token: testKeyHex}) || f.APIURL != DefaultGitHubAPIURL {
		t.Errorf("forge = %+v", f)
	}
	e := c.Entities[0].ToCore("forge-1")
	if e != (core.Entity{ForgeID: "forge-1", Kind: core.EntityRepository, Name: "acme/app", Intake: core.IntakeWebhook}) {
		t.Errorf("entity = %+v", e)
	}
	p := c.Pools[0].ToCore("ent-1")
	want := core.Pool{Name: "p", EntityID: "ent-1", Provider: "local", Image: "default", OSType: "linux", Arch: "x64",
		Labels: []string{"linux", "x64"}, MinIdle: 1, MaxRunners: 5, Priority: 3, BootstrapTimeout: 20 * time.Minute,
		MaxJobRuntime: 6 * time.Hour, RunnerGroup: "ci", RunnerPrefix: "paddock", Enabled: true,
		Sizes: &core.SizeLimits{MaxCPU: 8, MaxMemoryGB: 32, MaxDiskGB: 100}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("pool =\n%+v\nwant\n%+v", p, want)
	}
	p.Labels[0] = "changed"
	if c.Pools[0].Labels[0] != "linux" {
		t.Error("ToCore shares the labels slice with the config")
	}
	if pr, ok := c.Provider("local"); !ok || pr.Type != "process" {
		t.Errorf("Provider(local) = %+v, %v", pr, ok)
	}
	if _, ok := c.Forge("nope"); ok {
		t.Error("Forge(nope) found something")
	}
}

package api

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

func instance(poolID, name string) core.Instance {
	return core.Instance{Name: name, PoolID: poolID, Labels: []string{"linux"}}
}

func TestForgeCRUDAndRedaction(t *testing.T) {
	h := newHarness(t, nil)
	const token, secret = "ghp_TOPSECRET_TOKEN", "whsec_TOPSECRET"
	var f core.Forge
	h.must(201, "POST", "/api/v1/forges", map[string]any{
		"name": "ghes", "kind": "github", "api_url": "https://ghes.example.com/api/v3",
		"webhook_secret": secret,
		"credential":     map[string]any{"kind": "pat", "token": token},
	}, &f)
	if f.APIURL != "https://ghes.example.com/api/v3/" || f.WebURL != "https://ghes.example.com/" {
		t.Fatalf("urls not normalised/derived: api %q web %q", f.APIURL, f.WebURL)
	}
	if f.Credential.Token != "***" || f.WebhookSecret != "***" {
		t.Fatalf("secrets not redacted: %+v", f)
	}
	var list []core.Forge
	h.must(200, "GET", "/api/v1/forges", nil, &list)
	if len(list) != 1 || list[0].Name != "ghes" {
		t.Fatalf("list: %+v", list)
	}
	h.must(200, "GET", "/api/v1/forges/ghes", nil, nil)
	h.must(200, "GET", "/api/v1/forges/"+f.ID, nil, nil)

	// PATCH changes only what it names; rotating the token keeps the kind.
	h.must(200, "PATCH", "/api/v1/forges/ghes", map[string]any{
		"credential": map[string]any{"token": token + "2"}}, &f)
	stored, err := h.st.GetForge(context.Background(), "ghes")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Credential.Token != token+"2" || stored.Credential.Kind != core.CredentialPAT ||
		stored.WebhookSecret != secret || stored.APIURL != "https://ghes.example.com/api/v3/" {
		t.Fatalf("patch changed the wrong things: %+v", stored)
	}

	h.wantError(404, "GET", "/api/v1/forges/nope", nil, `forge "nope" not found`)
	h.wantError(409, "POST", "/api/v1/forges", map[string]any{"name": "ghes", "kind": "github",
		"credential": map[string]any{"kind": "pat", "token": token}}, "already exists")

	for _, b := range h.bodies {
		if strings.Contains(b, "TOPSECRET") {
			t.Fatalf("a response leaked a secret: %s", b)
		}
	}
	h.must(204, "DELETE", "/api/v1/forges/ghes", nil, nil)
	h.wantError(404, "DELETE", "/api/v1/forges/ghes", nil, "not found")
}

func TestForgeValidation(t *testing.T) {
	h := newHarness(t, nil)
	pat := map[string]any{"kind": "pat", "token": "t"}
	cases := []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"name": "g", "kind": "gitea", "credential": pat}, "only in the config file"},
		{map[string]any{"name": "g", "kind": "forgejo", "credential": pat}, "only in the config file"},
		{map[string]any{"name": "g", "kind": "svn", "credential": pat}, `kind "svn"`},
		{map[string]any{"name": "g", "credential": pat}, "kind: required"},
		{map[string]any{"kind": "github", "credential": pat}, "name: required"},
		{map[string]any{"name": "a b", "kind": "github", "credential": pat}, "name"},
		{map[string]any{"name": "g", "kind": "github", "api_url": "ftp://x/", "credential": pat}, "api_url"},
		{map[string]any{"name": "g", "kind": "github", "api_url": "not a url", "credential": pat}, "api_url"},
		{map[string]any{"name": "g", "kind": "github"}, "credential is required"},
		{map[string]any{"name": "g", "kind": "github", "credential": map[string]any{"kind": "pat"}}, "credential.token"},
		{map[string]any{"name": "g", "kind": "github", "credential": map[string]any{"kind": "pat", "token": "***"}}, "placeholder"},
		{map[string]any{"name": "g", "kind": "github", "credential": map[string]any{"kind": "app", "app_id": 1, "installation_id": 2, "private_key_pem": "nope"}}, "private_key_pem"},
		{map[string]any{"name": "g", "kind": "github", "credential": map[string]any{"kind": "app", "private_key_pem": "x"}}, "app_id"},
	}
	for _, c := range cases {
		h.wantError(400, "POST", "/api/v1/forges", c.body, c.want)
	}
	// A valid app credential passes.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	var f core.Forge
	h.must(201, "POST", "/api/v1/forges", map[string]any{"name": "app", "kind": "github",
		"credential": map[string]any{"kind": "app", "app_id": 1, "installation_id": 2, "private_key_pem": pemKey}}, &f)
	if f.APIURL != "https://api.github.com/" || f.WebURL != "https://github.com/" || f.Credential.PrivateKeyPEM != "***" {
		t.Fatalf("defaults/redaction: %+v", f)
	}
	if n := h.notify.Load(); n != 1 {
		t.Fatalf("Notify called %d times, want 1 (only the successful create)", n)
	}
}

func TestEntities(t *testing.T) {
	h := newHarness(t, nil)
	h.seed()
	var e EntityView
	// The slash in owner/repo works both raw and escaped.
	h.must(200, "GET", "/api/v1/entities/acme/app", nil, &e)
	if e.Kind != core.EntityRepository || e.Intake != core.IntakeWebhook || e.Forge != "github" {
		t.Fatalf("defaults: %+v", e)
	}
	h.must(200, "GET", "/api/v1/entities/acme%2Fapp", nil, nil)
	h.must(201, "POST", "/api/v1/entities", map[string]any{"forge": "github", "name": "acme", "intake": "poll"}, &e)
	if e.Kind != core.EntityOrganization {
		t.Fatalf("org kind not inferred: %+v", e)
	}
	h.must(200, "PATCH", "/api/v1/entities/acme", map[string]any{"intake": "webhook"}, &e)
	if e.Intake != core.IntakeWebhook || e.Name != "acme" {
		t.Fatalf("patch: %+v", e)
	}
	h.wantError(400, "POST", "/api/v1/entities", map[string]any{"name": "x"}, "forge is required")
	h.wantError(400, "POST", "/api/v1/entities", map[string]any{"forge": "gitlab", "name": "x"}, `forge "gitlab" does not exist`)
	h.wantError(400, "POST", "/api/v1/entities", map[string]any{"forge": "github", "name": "x", "kind": "team"}, `kind "team"`)
	h.wantError(400, "POST", "/api/v1/entities", map[string]any{"forge": "github", "name": "x", "kind": "repository"}, "owner/repo")
	h.wantError(400, "POST", "/api/v1/entities", map[string]any{"forge": "github", "name": "a/b", "intake": "carrier-pigeon"}, "intake")
	var list []EntityView
	h.must(200, "GET", "/api/v1/entities", nil, &list)
	if len(list) != 2 {
		t.Fatalf("list: %+v", list)
	}
	// References block deletes, and the message says by what.
	h.wantError(409, "DELETE", "/api/v1/forges/github", nil, "acme/app", "entity delete")
	h.wantError(409, "DELETE", "/api/v1/entities/acme/app", nil, "pools: linux", "pool delete")
	h.must(204, "DELETE", "/api/v1/entities/acme", nil, nil)
	h.wantError(404, "GET", "/api/v1/entities/acme", nil, `entity "acme" not found`)
}

func TestPools(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Providers = []string{"local", "qemu"} })
	h.seed()
	var p PoolView
	h.must(200, "GET", "/api/v1/pools/linux", nil, &p)
	if p.Entity != "acme/app" || p.MaxRunners != 4 || !p.Enabled || p.BootstrapTimeout != Duration(20*time.Minute) {
		t.Fatalf("defaults: %+v", p)
	}
	raw := h.must(200, "GET", "/api/v1/pools/linux", nil, nil)
	if !strings.Contains(raw, `"bootstrap_timeout": "20m0s"`) {
		t.Fatalf("durations should be strings: %s", raw)
	}
	// Durations accept strings and nanoseconds; PATCH leaves the rest alone.
	h.must(200, "PATCH", "/api/v1/pools/linux", map[string]any{"bootstrap_timeout": "5m", "max_job_runtime": int64(time.Hour), "min_idle": 2}, &p)
	stored := h.pool("linux")
	if stored.BootstrapTimeout != 5*time.Minute || stored.MaxJobRuntime != time.Hour || stored.MinIdle != 2 ||
		stored.MaxRunners != 4 || strings.Join(stored.Labels, ",") != "linux,x64" {
		t.Fatalf("patch: %+v", stored)
	}
	h.must(200, "PATCH", "/api/v1/pools/linux", map[string]any{"enabled": false}, &p)
	if p.Enabled || p.MinIdle != 2 {
		t.Fatalf("disable: %+v", p)
	}
	base := func(kv ...any) map[string]any {
		m := map[string]any{"name": "p2", "entity": "acme/app", "provider": "local", "labels": []string{"a"}}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		body map[string]any
		want string
	}{
		{base("entity", nil), "entity: required"},
		{base("entity", "nope"), `entity "nope" does not exist`},
		{base("provider", ""), "provider: required"},
		{base("provider", "azure"), `provider "azure" is not configured`},
		{base("labels", []string{}), "labels"},
		{base("labels", []string{"a", "A"}), "duplicate label"},
		{base("max_runners", 0), "max_runners"},
		{base("min_idle", 3, "max_runners", 2), "min_idle"},
		{base("min_idle", -1), "min_idle"},
		{base("free_target_percent", 101), "free_target_percent"},
		{base("bootstrap_timeout", "soon"), "bootstrap_timeout"},
		{base("max_job_runtime", "-1h"), "max_job_runtime"},
		{base("sizes", map[string]any{"max_cpu": 4, "gpus": 1}), `unknown field "gpus"`},
	}
	for _, c := range cases {
		h.wantError(400, "POST", "/api/v1/pools", c.body, c.want)
	}
	h.wantError(409, "POST", "/api/v1/pools", base("name", "linux"), "already exists")
	h.wantError(404, "PATCH", "/api/v1/pools/nope", map[string]any{"priority": 1}, `pool "nope" not found`)

	var list []PoolView
	h.must(201, "POST", "/api/v1/pools", base(), nil)
	h.must(200, "GET", "/api/v1/pools", nil, &list)
	if len(list) != 2 {
		t.Fatalf("list: %d pools", len(list))
	}
	before := h.notify.Load()
	h.must(204, "DELETE", "/api/v1/pools/p2", nil, nil)
	if h.notify.Load() != before+1 {
		t.Fatal("Notify not called after delete")
	}
}

func TestNotifyAfterEveryMutation(t *testing.T) {
	h := newHarness(t, nil)
	h.seed() // three creates
	h.must(200, "PATCH", "/api/v1/pools/linux", map[string]any{"priority": 5}, nil)
	h.must(200, "PATCH", "/api/v1/entities/acme/app", map[string]any{"intake": "poll"}, nil)
	h.must(200, "PATCH", "/api/v1/forges/github", map[string]any{"webhook_secret": "s"}, nil)
	h.must(204, "DELETE", "/api/v1/pools/linux", nil, nil)
	h.must(200, "GET", "/api/v1/pools", nil, nil) // reads do not notify
	if n := h.notify.Load(); n != 7 {
		t.Fatalf("Notify called %d times, want 7", n)
	}
}

func TestJobs(t *testing.T) {
	h := newHarness(t, nil)
	h.seed()
	h.must(201, "POST", "/api/v1/entities", map[string]any{"forge": "github", "name": "acme/lib"}, nil)
	ctx := context.Background()
	app, _ := h.st.GetEntity(ctx, "acme/app")
	lib, _ := h.st.GetEntity(ctx, "acme/lib")
	pool := h.pool("linux")
	now := time.Now()
	for _, j := range []core.Job{
		{ID: 7, EntityID: app.ID, State: core.JobQueued, Name: "build", Labels: []string{"linux"}, PoolID: pool.ID, QueuedAt: now},
		{ID: 7, EntityID: lib.ID, State: core.JobCompleted, Name: "test", QueuedAt: now},
		{ID: 8, EntityID: app.ID, State: core.JobInProgress, Name: "lint", QueuedAt: now},
	} {
		if _, err := h.st.UpsertJob(ctx, &j); err != nil {
			t.Fatal(err)
		}
	}
	var list []JobView
	h.must(200, "GET", "/api/v1/jobs", nil, &list)
	if len(list) != 3 {
		t.Fatalf("list: %d", len(list))
	}
	h.must(200, "GET", "/api/v1/jobs?state=queued&state=in_progress", nil, &list)
	if len(list) != 2 {
		t.Fatalf("state filter: %d", len(list))
	}
	h.must(200, "GET", "/api/v1/jobs?limit=1", nil, &list)
	if len(list) != 1 {
		t.Fatalf("limit: %d", len(list))
	}
	h.wantError(400, "GET", "/api/v1/jobs?state=running", nil, "running", "queued")
	h.wantError(400, "GET", "/api/v1/jobs?limit=-2", nil, "limit")

	h.wantError(409, "GET", "/api/v1/jobs/7", nil, "acme/app", "acme/lib", "entity=")
	var j JobView
	h.must(200, "GET", "/api/v1/jobs/7?entity=acme/app", nil, &j)
	if j.Name != "build" || j.Entity != "acme/app" || j.Pool != "linux" {
		t.Fatalf("show: %+v", j)
	}
	h.must(200, "GET", "/api/v1/jobs/8", nil, &j)
	if j.Name != "lint" {
		t.Fatalf("show unique: %+v", j)
	}
	h.wantError(404, "GET", "/api/v1/jobs/99", nil, "not found")
	h.wantError(400, "GET", "/api/v1/jobs/abc", nil, "integer")
}

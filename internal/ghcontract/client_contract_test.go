package ghcontract_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	ghforge "github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/ghcontract"
)

// exampleServer answers every documented operation with GitHub's own example
// for it. conflictOnce makes the first generate-jitconfig answer 409, as
// GitHub does for a runner name that is already registered.
func exampleServer(t *testing.T, c *ghcontract.Contract, conflictOnce bool) *httptest.Server {
	var conflicted atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/api/v3")
		if conflictOnce && strings.HasSuffix(path, "/generate-jitconfig") && !conflicted.Swap(true) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"message":"Already exists - A runner with that name already exists.","documentation_url":"https://docs.github.com/rest"}`))
			return
		}
		status, body, err := c.ExampleResponse(r.Method, path, 0)
		if err != nil {
			t.Errorf("example server: %v", err)
			http.Error(w, err.Error(), http.StatusNotImplemented)
			return
		}
		if fix := exampleFixups[routeOf(t, c, r.Method, path)]; fix != nil {
			body = fix(t, body)
		}
		if body != nil {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
		}
		w.Header().Set("X-RateLimit-Remaining", "4999")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// exampleFixups repair GitHub's published examples that break GitHub's own
// schema, so the example server only ever answers spec-valid bodies. Each
// fixup is the smallest change that satisfies the schema.
var exampleFixups = map[string]func(*testing.T, []byte) []byte{
	// The jobs example omits created_at, which the workflow-job schema requires.
	"GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs": func(t *testing.T, b []byte) []byte {
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		for _, j := range v["jobs"].([]any) {
			job := j.(map[string]any)
			if _, ok := job["created_at"]; !ok {
				job["created_at"] = job["started_at"]
			}
		}
		out, _ := json.Marshal(v)
		return out
	},
}

func routeOf(t *testing.T, c *ghcontract.Contract, method, path string) string {
	route, _, err := c.Route(method, path)
	if err != nil {
		t.Errorf("example server: %v", err)
		return ""
	}
	return method + " " + route.Path
}

func appKeyPEM(t *testing.T) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

// idleExampleRunner picks a runner name GitHub's list example reports as not
// busy, so the 409 path finds, deletes and re-mints it.
func idleExampleRunner(t *testing.T, c *ghcontract.Contract) string {
	_, body, err := c.ExampleResponse("GET", "/orgs/o/actions/runners", 0)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Runners []struct {
			Name string
			Busy bool
		}
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	for _, r := range list.Runners {
		if !r.Busy {
			return r.Name
		}
	}
	t.Fatal("GitHub's runner list example has no idle runner")
	return ""
}

// TestClientRequestsMatchGitHubContract drives every Client method at every
// entity level, with both credential kinds and through a GHES-style /api/v3
// prefix, and validates each request and answer against GitHub's description.
func TestClientRequestsMatchGitHubContract(t *testing.T) {
	c := ghcontract.Must(t)
	idle := idleExampleRunner(t, c)
	creds := map[string]core.Credential{
		"pat": {Kind: core.CredentialPAT, Token: "ghp_x"},
		"app": {Kind: core.CredentialApp, AppID: 1, InstallationID: 42, PrivateKeyPEM: appKeyPEM(t)},
	}
	rec := ghcontract.NewRecorder(c, nil, "/api/v3")
	for credName, cred := range creds {
		srv := exampleServer(t, c, true)
		// The token example expires in 2016; a clock just before keeps the cache meaningful.
		now := func() time.Time { return time.Date(2016, 7, 11, 21, 0, 0, 0, time.UTC) }
		cl, err := ghforge.New(core.Forge{Name: credName, Kind: core.ForgeGitHub, APIURL: srv.URL + "/api/v3/", Credential: cred},
			ghforge.Options{HTTPClient: &http.Client{Transport: rec}, Now: now, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, ent := range []core.Entity{
			{Kind: core.EntityRepository, Name: "octo-org/octo-repo"},
			{Kind: core.EntityOrganization, Name: "octo-org"},
			{Kind: core.EntityEnterprise, Name: "octo-corp"},
		} {
			cfg, err := cl.JITConfig(ctx, ent, forge.JITRequest{Name: idle, Labels: []string{"self-hosted", "linux"}, WorkFolder: "_work"})
			if err != nil || cfg.RunnerID == 0 || cfg.Encoded == "" {
				t.Errorf("%s %s JITConfig: %+v %v", credName, ent.Kind, cfg, err)
			}
			if rs, err := cl.ListRunners(ctx, ent); err != nil || len(rs) == 0 {
				t.Errorf("%s %s ListRunners: %v %v", credName, ent.Kind, rs, err)
			}
			if err := cl.DeleteRunner(ctx, ent, 23); err != nil {
				t.Errorf("%s %s DeleteRunner: %v", credName, ent.Kind, err)
			}
			if tools, err := cl.RunnerDownloads(ctx, ent); err != nil || len(tools) == 0 {
				t.Errorf("%s %s RunnerDownloads: %v %v", credName, ent.Kind, tools, err)
			}
			if ent.Kind == core.EntityRepository {
				if _, err := cl.ListQueuedJobs(ctx, ent); err != nil {
					t.Errorf("%s ListQueuedJobs: %v", credName, err)
				}
			} else if id, err := cl.RunnerGroupID(ctx, ent, "Default"); err != nil || id != 1 {
				t.Errorf("%s %s RunnerGroupID: %d %v", credName, ent.Kind, id, err)
			}
		}
	}
	rec.Check(t)

	ops := rec.Operations()
	for _, scope := range []string{"/repos/{owner}/{repo}", "/orgs/{org}", "/enterprises/{enterprise}"} {
		for _, op := range []string{
			"POST " + scope + "/actions/runners/generate-jitconfig",
			"GET " + scope + "/actions/runners",
			"DELETE " + scope + "/actions/runners/{runner_id}",
			"GET " + scope + "/actions/runners/downloads",
		} {
			if ops[op] == 0 {
				t.Errorf("operation %s never exercised", op)
			}
		}
	}
	for _, op := range []string{
		"GET /repos/{owner}/{repo}/actions/runs",
		"GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
		"GET /orgs/{org}/actions/runner-groups",
		"GET /enterprises/{enterprise}/actions/runner-groups",
		"POST /app/installations/{installation_id}/access_tokens",
	} {
		if ops[op] == 0 {
			t.Errorf("operation %s never exercised", op)
		}
	}
	// One app token for the whole run: the cache works against real answers.
	if n := ops["POST /app/installations/{installation_id}/access_tokens"]; n != 1 {
		t.Errorf("app token exchanged %d times, want 1", n)
	}
	t.Logf("validated %d exchanges over %d operations", len(rec.Exchanges()), len(ops))
}

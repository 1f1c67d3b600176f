package controller_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/metadata"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// TestGiteaMachineNeverReceivesTheRegistrationToken follows one Gitea
// machine through everything it is served over HTTP: its runner config from
// the metadata endpoint, the runner package, and the task from the forge.
// None of it may carry the reusable registration token or the PAT.
func TestGiteaMachineNeverReceivesTheRegistrationToken(t *testing.T) {
	g := newGiteaStack(t, forgesim.Options{LongPoll: 2 * time.Second, RunnerCommand: []string{"/bin/true"}}, "linux")
	ctx, sim, ctl, prov := g.ctx, g.sim, g.ctl, g.prov
	mux := http.NewServeMux()
	(&metadata.Handler{Machines: ctl, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes(mux)
	meta := httptest.NewServer(mux)
	defer meta.Close()

	if _, err := sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}, Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.HandleJobEvent(ctx, g.forge.ID, forge.JobEvent{Action: "queued", Entity: forge.EntityRef{Repository: "acme/app"},
		Job: core.Job{ID: 1000, Repository: "acme/app", Labels: []string{"linux"}, State: core.JobQueued, QueuedAt: time.Now()}},
		time.Now()); err != nil {
		t.Fatal(err)
	}
	var spec provider.Spec
	testutil.Eventually(t, "a machine created", 10*time.Second, func() bool {
		for _, i := range listNames(t, prov) {
			spec, _ = prov.spec(i)
		}
		return spec.Token != ""
	})

	var served [][]byte
	get := func(url, token string) []byte {
		code, _, b := testutil.Request(t, http.MethodGet, url, testutil.Bearer(token), nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", url, code, b)
		}
		served = append(served, b)
		return b
	}
	raw := get(meta.URL+"/api/v1/metadata/runner", spec.Token)
	var cfg machineapi.RunnerConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Kind != gitea.RunnerKindActRunner || cfg.Tool.SHA256 == "" {
		t.Fatalf("runner config kind %q tool %+v", cfg.Kind, cfg.Tool)
	}
	dotRunner, _ := base64.StdEncoding.DecodeString(cfg.JITConfig)
	served = append(served, dotRunner)
	get(cfg.Tool.DownloadURL, "")
	rf, err := gitea.DecodeRunnerFile(cfg.JITConfig)
	if err != nil {
		t.Fatal(err)
	}
	_, task, err := forgesim.FetchTask(ctx, rf.Address, rf.UUID, rf.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(task), `"job_id":1000`) {
		t.Fatalf("FetchTask with the .runner credentials: %s", task)
	}
	served = append(served, task)

	secrets := append(sim.RegistrationTokens(), giteaPAT)
	if len(secrets) < 2 {
		t.Fatal("the sim issued no registration token")
	}
	for _, s := range secrets {
		for i, b := range served {
			if strings.Contains(string(b), s) {
				t.Fatalf("item %d served to the machine contains a manager secret", i)
			}
		}
	}
	// The config is single-use: a second fetch is refused.
	if code, _, _ := testutil.Request(t, http.MethodGet, meta.URL+"/api/v1/metadata/runner", testutil.Bearer(spec.Token), nil); code != http.StatusUnauthorized {
		t.Fatalf("second fetch: %d; want 401", code)
	}
}

func listNames(t *testing.T, p *memProvider) []string {
	t.Helper()
	ms, err := p.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

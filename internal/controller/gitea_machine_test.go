package controller_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/metadata"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
)

const giteaPAT = "gitea_PAT_HARNESS_must_never_reach_a_machine"

// TestGiteaMachineNeverReceivesTheRegistrationToken follows one Gitea
// machine through everything it is served over HTTP: its runner config from
// the metadata endpoint, the runner package, and the task from the forge.
// None of it may carry the reusable registration token or the PAT.
func TestGiteaMachineNeverReceivesTheRegistrationToken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim := forgesim.New(forgesim.Options{Flavor: forgesim.FlavorGitea, LongPoll: 2 * time.Second,
		RunnerCommand: []string{"/bin/true"}})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	box, _ := secretbox.New(make([]byte, 32))
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), box)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := core.Forge{Name: "gt", Kind: core.ForgeGitea, APIURL: sim.URL() + "api/v1/", WebURL: sim.URL(),
		WebhookSecret: "s", Credential: core.Credential{Kind: core.CredentialPAT, Token: giteaPAT}}
	if err := st.CreateForge(ctx, &f); err != nil {
		t.Fatal(err)
	}
	ent := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "acme/app", Intake: core.IntakeWebhook}
	if err := st.CreateEntity(ctx, &ent); err != nil {
		t.Fatal(err)
	}
	p := pool("gt", "linux")
	p.EntityID, p.Provider, p.Enabled = ent.ID, "mem", true
	if err := st.CreatePool(ctx, &p); err != nil {
		t.Fatal(err)
	}
	client, err := gitea.New(ctx, f, gitea.Options{Downloads: sim.RunnerTools()})
	if err != nil {
		t.Fatal(err)
	}
	prov := newMemProvider()
	ctl := controller.New(controller.Options{
		Store: st, Providers: map[string]provider.Provider{"mem": prov}, Forges: simForges{client},
		Logger: slog.New(slog.NewTextHandler(testLog(t), nil)), ControllerID: "test", TokenKey: []byte("k"),
		MetadataURL: "http://meta", CallbackURL: "http://cb", IdleGrace: time.Hour,
		ReconcileInterval: time.Hour, MaxCreateAttempts: 5,
	})
	done := make(chan struct{})
	go func() { ctl.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	mux := http.NewServeMux()
	(&metadata.Handler{Machines: ctl, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes(mux)
	meta := httptest.NewServer(mux)
	defer meta.Close()

	if _, err := sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}, Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.HandleJobEvent(ctx, f.ID, forge.JobEvent{Action: "queued", Entity: forge.EntityRef{Repository: "acme/app"},
		Job: core.Job{ID: 1000, Repository: "acme/app", Labels: []string{"linux"}, State: core.JobQueued, QueuedAt: time.Now()}},
		time.Now()); err != nil {
		t.Fatal(err)
	}
	var spec provider.Spec
	deadline := time.Now().Add(10 * time.Second)
	for spec.Token == "" && time.Now().Before(deadline) {
		for _, i := range listNames(t, prov) {
			spec, _ = prov.spec(i)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if spec.Token == "" {
		t.Fatal("no machine was created")
	}

	var served [][]byte
	get := func(url, token string) []byte {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
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
	req, _ := http.NewRequest(http.MethodPost, rf.Address+"/api/actions/runner.v1.RunnerService/FetchTask",
		strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-runner-uuid", rf.UUID)
	req.Header.Set("x-runner-token", rf.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	task, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
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
	req, _ = http.NewRequest(http.MethodGet, meta.URL+"/api/v1/metadata/runner", nil)
	req.Header.Set("Authorization", "Bearer "+spec.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("second fetch: %d; want 401", resp.StatusCode)
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

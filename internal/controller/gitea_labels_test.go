package controller_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
)

// Testers' case: a Gitea pool labelled Linux took runs-on: linux jobs and
// booted machines whose runners Gitea never offered the job. The controller
// must match with Gitea's rules, make no machine, and say why on the job.
func TestGiteaLabelMismatchMakesNoMachineAndSaysWhy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim := forgesim.New(forgesim.Options{Flavor: forgesim.FlavorGitea})
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
	p := pool("gt", "Linux")
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

	ev := forge.JobEvent{Action: "queued", Entity: forge.EntityRef{Repository: "acme/app"},
		Job: core.Job{ID: 11, Labels: []string{"linux"}, State: core.JobQueued, QueuedAt: time.Now()}}
	if _, err := ctl.HandleJobEvent(ctx, f.ID, ev, time.Now()); err != nil {
		t.Fatal(err)
	}
	want := `pool "gt" has label "Linux"; Gitea matches case-sensitively`
	deadline := time.Now().Add(10 * time.Second)
	var note string
	for time.Now().Before(deadline) {
		js, err := st.ListJobs(ctx, store.JobFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(js) == 1 && js[0].Note != "" {
			note = js[0].Note
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(note, want) {
		t.Fatalf("job note %q; want it to contain %q", note, want)
	}
	insts, err := st.ListInstances(ctx, store.InstanceFilter{Live: true})
	if err != nil || len(insts) != 0 {
		t.Fatalf("instances %+v, %v; want none for a job Gitea would never offer the pool's runners", insts, err)
	}
}

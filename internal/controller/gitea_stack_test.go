package controller_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
)

const giteaPAT = "gitea_PAT_HARNESS_must_never_reach_a_machine"

// giteaStack is a running controller for one Gitea simulator: SQLite, the
// real Gitea adapter, an in-memory provider, and one webhook-intake pool on
// acme/app.
type giteaStack struct {
	ctx   context.Context
	sim   *forgesim.Sim
	st    store.Store
	forge core.Forge
	prov  *memProvider
	ctl   *controller.Controller
}

// newGiteaStack starts the stack with the sim options given (Flavor is set
// to Gitea) and a pool labelled poolLabel; everything stops when t ends.
func newGiteaStack(t *testing.T, simOpts forgesim.Options, poolLabel string) *giteaStack {
	t.Helper()
	return newGiteaStackGrace(t, simOpts, poolLabel, time.Hour)
}

// newGiteaStackGrace is newGiteaStack with the controller's IdleGrace given.
func newGiteaStackGrace(t *testing.T, simOpts forgesim.Options, poolLabel string, idleGrace time.Duration) *giteaStack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	simOpts.Flavor = forgesim.FlavorGitea
	sim := forgesim.New(simOpts)
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	st := teststore.Open(t)
	f := core.Forge{Name: "gt", Kind: core.ForgeGitea, APIURL: sim.URL() + "api/v1/", WebURL: sim.URL(),
		WebhookSecret: "s", Credential: core.Credential{Kind: core.CredentialPAT, Token: giteaPAT}}
	if err := st.CreateForge(ctx, &f); err != nil {
		t.Fatal(err)
	}
	ent := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "acme/app", Intake: core.IntakeWebhook}
	if err := st.CreateEntity(ctx, &ent); err != nil {
		t.Fatal(err)
	}
	p := pool("gt", poolLabel)
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
		MetadataURL: "http://meta", CallbackURL: "http://cb", IdleGrace: idleGrace,
		ReconcileInterval: time.Hour, MaxCreateAttempts: 5,
	})
	done := make(chan struct{})
	go func() { ctl.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done }) // runs first: the controller stops before the store closes
	return &giteaStack{ctx: ctx, sim: sim, st: st, forge: f, prov: prov, ctl: ctl}
}

package controller

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
)

func TestHousekeepingRetention(t *testing.T) {
	ctx := t.Context()
	st := teststore.Open(t)
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, APIURL: "https://api.github.com/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateForge(ctx, &f))
	e := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "o/r", Intake: core.IntakeWebhook}
	must(st.CreateEntity(ctx, &e))
	p := core.Pool{Name: "p", EntityID: e.ID, Provider: "mem", Labels: []string{"x"}, MaxRunners: 1}
	must(st.CreatePool(ctx, &p))
	for _, j := range []core.Job{{ID: 1, EntityID: e.ID, State: core.JobCompleted}, {ID: 2, EntityID: e.ID, State: core.JobQueued}} {
		_, err := st.UpsertJob(ctx, &j)
		must(err)
	}
	gone := core.Instance{Name: "p-gone", PoolID: p.ID}
	must(st.CreateInstance(ctx, &gone))
	for _, s := range []core.InstanceState{core.InstancePendingDelete, core.InstanceDeleting, core.InstanceDeleted} {
		_, err := st.UpdateInstance(ctx, gone.Name, func(i *core.Instance) error { i.State = s; return nil })
		must(err)
	}
	_, err := st.RecordDelivery(ctx, "github:x", "d1", time.Now())
	must(err)

	var clock time.Time
	c := New(Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return clock },
		// Below every floor: the floors win.
		Retention: Retention{Jobs: time.Hour, Instances: time.Hour, Deliveries: time.Minute}})
	gotJob := func(id int64) bool {
		_, err := st.GetJob(ctx, e.ID, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	gotInstance := func() bool {
		_, err := st.GetInstance(ctx, gone.Name)
		return err == nil
	}
	fresh := func() bool {
		ok, err := st.RecordDelivery(ctx, "github:x", "d1", time.Now())
		must(err)
		return ok
	}

	clock = time.Now().Add(30 * time.Minute)
	c.housekeep(ctx)
	if !gotJob(1) || !gotInstance() || fresh() {
		t.Fatal("history younger than the retention floors was purged")
	}
	clock = time.Now().Add(core.MinJobRetention + time.Hour)
	c.housekeep(ctx)
	if gotJob(1) || !gotJob(2) {
		t.Fatalf("after the job floor: completed job kept=%v, queued job kept=%v", gotJob(1), gotJob(2))
	}
	if !gotInstance() {
		t.Fatal("deleted instance purged before its runner registration could have expired")
	}
	clock = time.Now().Add(core.MinInstanceRetention + time.Hour)
	c.housekeep(ctx)
	if gotInstance() || !gotJob(2) {
		t.Fatal("deleted instance kept past its retention, or a queued job purged")
	}
	if !fresh() {
		t.Fatal("delivery id kept past its retention")
	}
}

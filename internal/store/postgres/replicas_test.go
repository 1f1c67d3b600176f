package postgres

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/testutil/pgtest"
)

// Replicas starting together on an empty database migrate it once; replicas
// writing the same rows never make duplicates.
func TestReplicasShareRows(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DB(t)
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); stores[i], errs[i] = Open(ctx, dsn, box(t, 7)) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	s0 := stores[0]
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	if err := s0.CreateForge(ctx, &f); err != nil {
		t.Fatal(err)
	}
	e := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "o/r", Intake: core.IntakeWebhook}
	if err := s0.CreateEntity(ctx, &e); err != nil {
		t.Fatal(err)
	}
	p := core.Pool{Name: "p", EntityID: e.ID, Provider: "fake", MaxRunners: 5, Enabled: true}
	if err := s0.CreatePool(ctx, &p); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		var (
			created, inserted, fresh int
			mu                       sync.Mutex
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := stores[i]
				in := core.Instance{Name: fmt.Sprintf("m-%d", round), PoolID: p.ID}
				err := s.CreateInstance(ctx, &in)
				if err != nil && !errors.Is(err, store.ErrConflict) {
					t.Errorf("create instance: %v", err)
				}
				j := core.Job{EntityID: e.ID, ID: int64(round + 1), State: core.JobQueued, Labels: []string{"x"}}
				ch, jerr := s.UpsertJob(ctx, &j)
				if jerr != nil {
					t.Errorf("upsert job: %v", jerr)
				}
				fr, derr := s.RecordDelivery(ctx, "github", fmt.Sprintf("d-%d", round), time.Now())
				if derr != nil {
					t.Errorf("record delivery: %v", derr)
				}
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					created++
				}
				if ch {
					inserted++
				}
				if fr {
					fresh++
				}
			}()
		}
		wg.Wait()
		if created != 1 || inserted != 1 || fresh != 1 {
			t.Fatalf("round %d: %d instances created, %d job inserts, %d fresh deliveries; want 1 each", round, created, inserted, fresh)
		}
	}
	var migrations int
	if err := s0.pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&migrations); err != nil {
		t.Fatal(err)
	}
	ms, _ := loadMigrations()
	if migrations != len(ms) {
		t.Fatalf("%d migrations recorded, %d embedded", migrations, len(ms))
	}
}

// A pool deleted on one replica while another plans a machine in it: either
// the delete is refused (the machine exists) or the create fails (the pool
// is gone); never a live machine in a deleted pool.
func TestReplicasDeletePoolWhileCreating(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.DB(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	defer a.Close()
	defer b.Close()
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	if err := a.CreateForge(ctx, &f); err != nil {
		t.Fatal(err)
	}
	e := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "o/r", Intake: core.IntakeWebhook}
	if err := a.CreateEntity(ctx, &e); err != nil {
		t.Fatal(err)
	}
	for round := range 30 {
		p := core.Pool{Name: fmt.Sprintf("p%d", round), EntityID: e.ID, Provider: "fake", MaxRunners: 5, Enabled: true}
		if err := a.CreatePool(ctx, &p); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var delErr, createErr error
		wg.Add(2)
		go func() { defer wg.Done(); delErr = a.DeletePool(ctx, p.ID) }()
		go func() {
			defer wg.Done()
			createErr = b.CreateInstance(ctx, &core.Instance{Name: fmt.Sprintf("m%d", round), PoolID: p.ID})
		}()
		wg.Wait()
		if (delErr == nil) == (createErr == nil) {
			t.Fatalf("round %d: delete pool: %v, create instance: %v; want exactly one to succeed", round, delErr, createErr)
		}
		live, err := a.ListInstances(ctx, store.InstanceFilter{PoolID: p.ID, Live: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.GetPool(ctx, p.ID); errors.Is(err, store.ErrNotFound) && len(live) > 0 {
			t.Fatalf("round %d: pool deleted with %d live instances", round, len(live))
		}
	}
}

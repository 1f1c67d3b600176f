package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

func testDeliveries(t *testing.T, s store.Store) {
	old := time.Now().Add(-2 * time.Hour)
	record := func(src, id string, at time.Time) bool {
		t.Helper()
		fresh, err := s.RecordDelivery(ctx(t), src, id, at)
		must(t, err)
		return fresh
	}
	if !record("github", "d1", old) {
		t.Fatal("first delivery not fresh")
	}
	if record("github", "d1", time.Now()) {
		t.Fatal("duplicate delivery reported fresh")
	}
	if !record("gitea", "d1", time.Now()) {
		t.Fatal("same id from another source must be fresh")
	}
	if !record("github", "d2", time.Now()) {
		t.Fatal("second delivery not fresh")
	}
	n, err := s.PurgeDeliveries(ctx(t), time.Now().Add(-time.Hour))
	must(t, err)
	if n != 1 {
		t.Fatalf("purged %d deliveries, want 1", n)
	}
	if !record("github", "d1", time.Now()) {
		t.Fatal("purged delivery still remembered")
	}
	if record("github", "d2", time.Now()) {
		t.Fatal("unpurged delivery forgotten")
	}
}

func testMeta(t *testing.T, s store.Store) {
	// A key no backend's migrations set (a PostgreSQL migration seeds
	// controller_id so replicas agree on it).
	const metaKey = "storetest_key"
	_, err := s.GetMeta(ctx(t), metaKey)
	wantErr(t, err, store.ErrNotFound, "unset meta")
	must(t, s.SetMeta(ctx(t), metaKey, "abc"))
	must(t, s.SetMeta(ctx(t), "other", ""))
	v, err := s.GetMeta(ctx(t), metaKey)
	must(t, err)
	if v != "abc" {
		t.Fatalf("got %q", v)
	}
	must(t, s.SetMeta(ctx(t), metaKey, "def"))
	if v, _ := s.GetMeta(ctx(t), metaKey); v != "def" {
		t.Fatalf("overwrite: got %q", v)
	}
	if v, err := s.GetMeta(ctx(t), "other"); err != nil || v != "" {
		t.Fatalf("empty value: %q %v", v, err)
	}
}

// testConcurrentUpdate checks UpdateInstance is an atomic read-modify-write:
// a lost update would leave fewer than workers*rounds increments.
func testConcurrentUpdate(t *testing.T, s store.Store) {
	const workers, rounds = 8, 50
	p := newChain(t, s)
	i := newInstance(t, s, p.ID, "hot")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				if _, err := s.UpdateInstance(ctx(t), i.ID, func(in *core.Instance) error {
					in.Attempts++
					return nil
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// Readers run alongside and must never fail either.
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.ListInstances(ctx(t), store.InstanceFilter{}); err != nil {
				errs <- fmt.Errorf("concurrent read: %w", err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.GetInstance(ctx(t), i.ID)
	must(t, err)
	if got.Attempts != workers*rounds {
		t.Fatalf("attempts = %d, want %d (lost updates)", got.Attempts, workers*rounds)
	}
}

func testConcurrentCreate(t *testing.T, s store.Store) {
	const workers = 8
	p := newChain(t, s)
	var wg sync.WaitGroup
	results := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := core.Instance{Name: "same", PoolID: p.ID}
			results <- s.CreateInstance(ctx(t), &in)
		}()
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case errors.Is(err, store.ErrConflict):
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates won, want exactly 1", won)
	}
	list, err := s.ListInstances(ctx(t), store.InstanceFilter{})
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("%d instances stored", len(list))
	}
}

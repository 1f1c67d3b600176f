package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

func testUsage(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	recs := []core.Usage{
		{Instance: "m3", PoolID: "p2", TenantID: "t2", EntityID: "e2", JobID: 3, Provider: "lxd",
			RunSeconds: 60, Cost: 0.5, EndedAt: t0.Add(2 * time.Hour)},
		{Instance: "m1", PoolID: "p1", TenantID: "t1", EntityID: "e1", JobID: 1, Provider: "lxd", Flavor: "small",
			BootSeconds: 10, WaitSeconds: 20, RunSeconds: 300, Cost: 0.25, ReferenceCost: 0.04, Currency: "EUR",
			Note: "n", EndedAt: t0},
		{Instance: "m2", PoolID: "p1", TenantID: "t1", EntityID: "e1", Provider: "lxd",
			WaitSeconds: 600, EndedAt: t0.Add(time.Hour)},
	}
	for i := range recs {
		fresh, err := s.RecordUsage(ctx, &recs[i])
		if err != nil || !fresh {
			t.Fatalf("RecordUsage(%s) = %v, %v; want fresh", recs[i].Instance, fresh, err)
		}
	}
	all, err := s.ListUsage(ctx, store.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].Instance != "m1" || all[1].Instance != "m2" || all[2].Instance != "m3" {
		t.Fatalf("ListUsage = %+v, want m1 m2 m3 by ended_at", all)
	}
	if got := all[0]; got.BootSeconds != 10 || got.WaitSeconds != 20 || got.RunSeconds != 300 || got.Cost != 0.25 ||
		got.ReferenceCost != 0.04 || got.Currency != "EUR" || got.Note != "n" || got.Flavor != "small" ||
		!got.EndedAt.Equal(t0) || got.JobID != 1 {
		t.Fatalf("round trip = %+v", got)
	}
	for _, c := range []struct {
		f    store.UsageFilter
		want []string
	}{
		{store.UsageFilter{TenantID: "t1"}, []string{"m1", "m2"}},
		{store.UsageFilter{EntityID: "e2"}, []string{"m3"}},
		{store.UsageFilter{PoolID: "p1", From: t0.Add(time.Minute)}, []string{"m2"}},
		{store.UsageFilter{From: t0, To: t0.Add(time.Hour)}, []string{"m1"}},
		{store.UsageFilter{TenantID: "nobody"}, nil},
	} {
		got, err := s.ListUsage(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range got {
			names = append(names, u.Instance)
		}
		if len(names) != len(c.want) || (len(names) > 0 && names[0] != c.want[0]) ||
			(len(names) > 1 && names[1] != c.want[1]) {
			t.Errorf("ListUsage(%+v) = %v, want %v", c.f, names, c.want)
		}
	}
	if _, err := s.RecordUsage(ctx, &core.Usage{}); err == nil {
		t.Error("RecordUsage without an instance name was accepted")
	}
}

// testUsageTwice: the controller writes usage again after a crash; the first
// record stands.
func testUsageTwice(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	if fresh, err := s.RecordUsage(ctx, &core.Usage{Instance: "m", PoolID: "p", Cost: 1, EndedAt: at}); err != nil || !fresh {
		t.Fatalf("first = %v, %v", fresh, err)
	}
	fresh, err := s.RecordUsage(ctx, &core.Usage{Instance: "m", PoolID: "p", Cost: 2, EndedAt: at.Add(time.Minute)})
	if err != nil || fresh {
		t.Fatalf("second = %v, %v; want not fresh, no error", fresh, err)
	}
	got, err := s.ListUsage(ctx, store.UsageFilter{})
	if err != nil || len(got) != 1 || got[0].Cost != 1 {
		t.Fatalf("after two records: %+v, %v", got, err)
	}
}

package cached

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
	"github.com/paddock-ci/paddock/internal/store/storetest"
)

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	box, err := secretbox.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paddock.db"), box)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The wrapper keeps every promise of the store it wraps.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return Wrap(openSQLite(t), 0) })
}

// counting counts the reads that reach the wrapped store.
type counting struct {
	store.Store
	forges, pools atomic.Int32
}

func (c *counting) ListForges(ctx context.Context) ([]core.Forge, error) {
	c.forges.Add(1)
	return c.Store.ListForges(ctx)
}

func (c *counting) ListPools(ctx context.Context) ([]core.Pool, error) {
	c.pools.Add(1)
	return c.Store.ListPools(ctx)
}

type fixture struct {
	raw   *counting
	s     *Store
	clock time.Time
	forge core.Forge
	pool  core.Pool
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{raw: &counting{Store: openSQLite(t)}, clock: time.Unix(1_800_000_000, 0)}
	t.Cleanup(func() { f.raw.Close() })
	f.s = Wrap(f.raw, time.Second)
	f.s.now = func() time.Time { return f.clock }
	ctx := context.Background()
	f.forge = core.Forge{Name: "gh", Kind: core.ForgeGitHub, APIURL: "https://api.github.com/", WebURL: "https://github.com/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	if err := f.s.CreateForge(ctx, &f.forge); err != nil {
		t.Fatal(err)
	}
	e := core.Entity{ForgeID: f.forge.ID, Kind: core.EntityRepository, Name: "o/r", Intake: core.IntakeWebhook}
	if err := f.s.CreateEntity(ctx, &e); err != nil {
		t.Fatal(err)
	}
	f.pool = core.Pool{Name: "p", EntityID: e.ID, Provider: "x", Labels: []string{"linux"}, MaxRunners: 2, Enabled: true,
		Sizes: &core.SizeLimits{MaxCPU: 4}}
	if err := f.s.CreatePool(ctx, &f.pool); err != nil {
		t.Fatal(err)
	}
	return f
}

// A forge's kind changed through the store is seen by the next read (the
// controller's label rules depend on it), while repeated reads cost one.
func TestForgeChangeSeenAtOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for range 5 {
		if _, err := f.s.ListForges(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.raw.forges.Load(); n != 1 {
		t.Fatalf("5 reads reached the store %d times, want 1", n)
	}
	f.forge.Kind = core.ForgeGitea
	if err := f.s.UpdateForge(ctx, &f.forge); err != nil {
		t.Fatal(err)
	}
	fs, err := f.s.ListForges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Kind != core.ForgeGitea {
		t.Fatalf("after PATCH to gitea, ListForges = %+v", fs)
	}
}

// A write another process made (straight to the database) is seen once the
// cached list is older than the TTL, not before.
func TestOutsideWriteSeenAfterTTL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.s.ListPools(ctx); err != nil {
		t.Fatal(err)
	}
	p := f.pool
	p.Enabled = false
	if err := f.raw.Store.UpdatePool(ctx, &p); err != nil { // not through the wrapper
		t.Fatal(err)
	}
	ps, _ := f.s.ListPools(ctx)
	if !ps[0].Enabled {
		t.Fatal("within the TTL the cached list should be served")
	}
	f.clock = f.clock.Add(time.Second)
	ps, _ = f.s.ListPools(ctx)
	if ps[0].Enabled {
		t.Fatal("past the TTL the outside write must be seen")
	}
	got, err := f.s.GetPool(ctx, f.pool.ID)
	if err != nil || got.Enabled {
		t.Fatalf("GetPool = %+v, %v; want the disabled pool", got, err)
	}
}

// Callers may change what they were given without changing the cache.
func TestCallersGetCopies(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ps, _ := f.s.ListPools(ctx)
	ps[0].Labels[0] = "changed"
	ps[0].Sizes.MaxCPU = 99
	got, err := f.s.GetPool(ctx, f.pool.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels[0] != "linux" || got.Sizes.MaxCPU != 4 {
		t.Fatalf("cache changed through a caller's copy: %+v %+v", got.Labels, *got.Sizes)
	}
	if n := f.raw.pools.Load(); n != 1 {
		t.Fatalf("pool reads reaching the store = %d, want 1", n)
	}
}

// A read that overlapped a write through the wrapper is not kept: it may
// hold the state from before the write.
func TestReadOverlappingWriteNotKept(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := cachedList(f.s, &f.s.pools, func() ([]core.Pool, error) {
		ps, err := f.raw.Store.ListPools(ctx)
		p := f.pool
		p.MaxRunners = 7
		if err := f.s.UpdatePool(ctx, &p); err != nil { // lands while the read runs
			t.Fatal(err)
		}
		return ps, err
	}, clonePool)
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := f.s.ListPools(ctx)
	if ps[0].MaxRunners != 7 {
		t.Fatalf("max_runners = %d: a read from before the write was cached", ps[0].MaxRunners)
	}
}

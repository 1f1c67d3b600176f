// Package cached wraps a store.Store so that what the hot path reads on every
// event but rarely changes — forges (whose credentials the store unseals on
// each read), entities and pools — is read and decoded once instead of per
// webhook and per decision. Writes made through the wrapper drop the cached
// list at once; writes another process makes to a shared database are seen
// once the cached copy is older than the TTL.
package cached

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// DefaultTTL bounds how stale a cached list may be when another process
// writes the same database.
const DefaultTTL = time.Second

// Store is a store.Store whose ListForges, ListEntities, ListPools and
// GetPool are served from memory. Every other method is the wrapped store's.
type Store struct {
	store.Store
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	forges   list[core.Forge]
	entities list[core.Entity]
	pools    list[core.Pool]
}

// list is one cached listing. gen counts the writes made through the
// wrapper: a read that overlapped a write is not kept.
type list[T any] struct {
	items []T
	at    time.Time
	gen   uint64
	valid bool
	// loading is closed when the read in flight ends: concurrent misses
	// (a burst of webhooks) wait for one read instead of each making one.
	loading chan struct{}
}

// Wrap returns st with its forge, entity and pool lists cached for at most
// ttl (0: DefaultTTL).
func Wrap(st store.Store, ttl time.Duration) *Store {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Store{Store: st, ttl: ttl, now: time.Now}
}

// cachedList returns l's items, reading them with read when the cache is
// empty or stale. The caller gets its own copy, made with clone.
func cachedList[T any](s *Store, l *list[T], read func() ([]T, error), clone func(T) T) ([]T, error) {
	s.mu.Lock()
	for l.loading != nil {
		wait := l.loading
		s.mu.Unlock()
		<-wait
		s.mu.Lock()
	}
	if l.valid && s.now().Sub(l.at) < s.ttl {
		out := cloneAll(l.items, clone)
		s.mu.Unlock()
		return out, nil
	}
	gen, at, done := l.gen, s.now(), make(chan struct{})
	l.loading = done
	s.mu.Unlock()
	items, err := read()
	s.mu.Lock()
	l.loading = nil
	close(done)
	if err == nil && l.gen == gen { // no write went through the wrapper meanwhile
		l.items, l.at, l.valid = cloneAll(items, clone), at, true
	}
	s.mu.Unlock()
	return items, err
}

func cloneAll[T any](xs []T, clone func(T) T) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = clone(x)
	}
	return out
}

// invalidate drops a list after a write through the wrapper.
func invalidate[T any](s *Store, l *list[T]) {
	s.mu.Lock()
	l.gen++
	l.valid = false
	s.mu.Unlock()
}

func same[T any](x T) T { return x }

// clonePool copies what a caller could change through a pool value.
func clonePool(p core.Pool) core.Pool {
	p.Labels = slices.Clone(p.Labels)
	p.Entities, p.Tenants = slices.Clone(p.Entities), slices.Clone(p.Tenants)
	if p.Sizes != nil {
		sz := *p.Sizes
		p.Sizes = &sz
	}
	p.ExtraSpecs = slices.Clone(p.ExtraSpecs)
	p.Flavors = maps.Clone(p.Flavors)
	return p
}

// ListForges is the wrapped store's, cached.
func (s *Store) ListForges(ctx context.Context) ([]core.Forge, error) {
	return cachedList(s, &s.forges, func() ([]core.Forge, error) { return s.Store.ListForges(ctx) }, same[core.Forge])
}

// ListEntities is the wrapped store's, cached.
func (s *Store) ListEntities(ctx context.Context) ([]core.Entity, error) {
	return cachedList(s, &s.entities, func() ([]core.Entity, error) { return s.Store.ListEntities(ctx) }, same[core.Entity])
}

// ListPools is the wrapped store's, cached.
func (s *Store) ListPools(ctx context.Context) ([]core.Pool, error) {
	return cachedList(s, &s.pools, func() ([]core.Pool, error) { return s.Store.ListPools(ctx) }, clonePool)
}

// GetPool finds the pool by id in the cached list; a name, or an id the
// list lacks, is asked of the wrapped store (which says why it is missing).
func (s *Store) GetPool(ctx context.Context, ref string) (core.Pool, error) {
	s.mu.Lock()
	if s.pools.valid && s.now().Sub(s.pools.at) < s.ttl {
		for _, p := range s.pools.items {
			if p.ID == ref {
				s.mu.Unlock()
				return clonePool(p), nil
			}
		}
	}
	s.mu.Unlock()
	return s.Store.GetPool(ctx, ref)
}

// CreateForge writes through and drops the cached forges.
func (s *Store) CreateForge(ctx context.Context, f *core.Forge) error {
	defer invalidate(s, &s.forges)
	return s.Store.CreateForge(ctx, f)
}

// UpdateForge writes through and drops the cached forges (a forge's kind,
// and so its label rules, can change).
func (s *Store) UpdateForge(ctx context.Context, f *core.Forge) error {
	defer invalidate(s, &s.forges)
	return s.Store.UpdateForge(ctx, f)
}

// DeleteForge writes through and drops the cached forges.
func (s *Store) DeleteForge(ctx context.Context, ref string) error {
	defer invalidate(s, &s.forges)
	return s.Store.DeleteForge(ctx, ref)
}

// CreateEntity writes through and drops the cached entities.
func (s *Store) CreateEntity(ctx context.Context, e *core.Entity) error {
	defer invalidate(s, &s.entities)
	return s.Store.CreateEntity(ctx, e)
}

// UpdateEntity writes through and drops the cached entities.
func (s *Store) UpdateEntity(ctx context.Context, e *core.Entity) error {
	defer invalidate(s, &s.entities)
	return s.Store.UpdateEntity(ctx, e)
}

// DeleteEntity writes through and drops the cached entities.
func (s *Store) DeleteEntity(ctx context.Context, ref string) error {
	defer invalidate(s, &s.entities)
	return s.Store.DeleteEntity(ctx, ref)
}

// CreatePool writes through and drops the cached pools.
func (s *Store) CreatePool(ctx context.Context, p *core.Pool) error {
	defer invalidate(s, &s.pools)
	return s.Store.CreatePool(ctx, p)
}

// UpdatePool writes through and drops the cached pools.
func (s *Store) UpdatePool(ctx context.Context, p *core.Pool) error {
	defer invalidate(s, &s.pools)
	return s.Store.UpdatePool(ctx, p)
}

// ModifyPool writes through and drops the cached pools.
func (s *Store) ModifyPool(ctx context.Context, ref string, fn func(*core.Pool) error) (core.Pool, error) {
	defer invalidate(s, &s.pools)
	return s.Store.ModifyPool(ctx, ref, fn)
}

// DeletePool writes through and drops the cached pools.
func (s *Store) DeletePool(ctx context.Context, ref string) error {
	defer invalidate(s, &s.pools)
	return s.Store.DeletePool(ctx, ref)
}

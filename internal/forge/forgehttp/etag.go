package forgehttp

import "sync"

// Cached is one conditional resource's last answer: its validator and what
// the adapter decoded from it.
type Cached[V any] struct {
	ETag  string
	Value V
}

// ETagCache keeps, per scope (an entity), the last answers to conditional
// requests, so the next request carries If-None-Match and a 304 reuses the
// decoded answer (GitHub does not charge 304s). A complete pass over a scope
// replaces its entries, so the cache never outgrows what the scope still
// has. The zero value is ready to use; safe for concurrent use.
type ETagCache[K comparable, V any] struct {
	mu      sync.Mutex
	byScope map[string]map[K]Cached[V]
}

// Get returns key's cached answer; ok is false when there is none with a validator.
func (c *ETagCache[K, V]) Get(scope string, key K) (Cached[V], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byScope[scope][key]
	return e, ok && e.ETag != ""
}

// Keep stores a pass's answers. A complete pass replaces the scope's
// entries (forgetting keys it no longer saw); an incomplete one only adds.
func (c *ETagCache[K, V]) Keep(scope string, entries map[K]Cached[V], complete bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byScope == nil {
		c.byScope = map[string]map[K]Cached[V]{}
	}
	if complete || c.byScope[scope] == nil {
		c.byScope[scope] = entries
		return
	}
	for k, e := range entries {
		c.byScope[scope][k] = e
	}
}

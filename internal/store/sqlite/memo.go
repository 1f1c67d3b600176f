package sqlite

import (
	"hash/maphash"
	"slices"
	"sync"

	"github.com/paddock-ci/paddock/internal/core"
)

// decodeMemo keeps the last decoded form of each instance row by id. The
// controller lists every live instance on each decision; most rows have not
// changed since the last listing, and decoding their JSON was most of the
// cost (10,000 instances: tens of ms a decision). A row is reused only when
// its stored JSON hashes (128 bits, two seeded maphashes) and measures as
// what was decoded: keeping the text itself doubled the memo's memory
// (10,000 instances: ~15 MB) for a collision chance of 2^-128 per row.
type decodeMemo struct {
	mu     sync.Mutex
	m      map[string]memoEntry
	s1, s2 maphash.Seed
}

type memoEntry struct {
	h1, h2 uint64
	n      int
	inst   core.Instance
}

// memoLimit bounds the memo; past it the memo starts afresh (deleted rows
// are never looked up again and would otherwise stay).
const memoLimit = 32768

func (d *decodeMemo) get(id string, data []byte) (core.Instance, bool) {
	d.mu.Lock()
	e, ok := d.m[id]
	s1, s2 := d.s1, d.s2
	d.mu.Unlock()
	if !ok || e.n != len(data) {
		return core.Instance{}, false
	}
	if h1, h2 := maphash.Bytes(s1, data), maphash.Bytes(s2, data); h1 != e.h1 || h2 != e.h2 {
		return core.Instance{}, false
	}
	i := e.inst
	i.Labels = slices.Clone(i.Labels) // the caller may change its copy
	return i, true
}

func (d *decodeMemo) put(id string, data []byte, i core.Instance) {
	i.Labels = slices.Clone(i.Labels)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.s1, d.s2 = maphash.MakeSeed(), maphash.MakeSeed()
	}
	if d.m == nil || len(d.m) >= memoLimit {
		d.m = map[string]memoEntry{}
	}
	h1, h2 := maphash.Bytes(d.s1, data), maphash.Bytes(d.s2, data)
	d.m[id] = memoEntry{h1: h1, h2: h2, n: len(data), inst: i}
}

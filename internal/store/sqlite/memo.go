package sqlite

import (
	"slices"
	"sync"

	"github.com/paddock-ci/paddock/internal/core"
)

// decodeMemo keeps the last decoded form of each instance row by id. The
// controller lists every live instance on each decision; most rows have not
// changed since the last listing, and decoding their JSON was most of the
// cost (10,000 instances: tens of ms a decision). A row is reused only when
// its stored JSON is byte for byte what was decoded.
type decodeMemo struct {
	mu sync.Mutex
	m  map[string]memoEntry
}

type memoEntry struct {
	data string
	inst core.Instance
}

// memoLimit bounds the memo; past it the memo starts afresh (deleted rows
// are never looked up again and would otherwise stay).
const memoLimit = 32768

func (d *decodeMemo) get(id string, data []byte) (core.Instance, bool) {
	d.mu.Lock()
	e, ok := d.m[id]
	d.mu.Unlock()
	if !ok || e.data != string(data) {
		return core.Instance{}, false
	}
	i := e.inst
	i.Labels = slices.Clone(i.Labels) // the caller may change its copy
	return i, true
}

func (d *decodeMemo) put(id, data string, i core.Instance) {
	i.Labels = slices.Clone(i.Labels)
	d.mu.Lock()
	if d.m == nil || len(d.m) >= memoLimit {
		d.m = map[string]memoEntry{}
	}
	d.m[id] = memoEntry{data: data, inst: i}
	d.mu.Unlock()
}

package scheduler

import (
	"slices"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
)

// impliedLabel is satisfied by every pool: forges add it to every self-hosted
// runner, so a job asking for it must not be refused for want of it in config.
const impliedLabel = "self-hosted"

// MatchResult is one pool able to serve a job.
type MatchResult struct {
	Pool core.Pool
	// Size is the size the job asked for through a size label that the pool's
	// Sizes limits accept. Zero (Label "") when the job named no size, or when
	// the label was one of the pool's own labels.
	Size Size
}

// MatchPools returns the enabled pools of entityID that can serve a job with
// these labels, best first (Priority descending, then Name, then ID).
//
// Labels compare case-insensitively. Every job label must be one of the pool's
// labels, except "self-hosted" (always satisfied) and at most one size label,
// which is satisfied when the pool's Sizes limits accept it.
func MatchPools(pools []core.Pool, entityID string, jobLabels []string) []MatchResult {
	m := newMatcher(pools)
	found := m.match(entityID, normalizeLabels(jobLabels))
	out := make([]MatchResult, len(found))
	for i, f := range found {
		out[i] = MatchResult{Pool: pools[f.pool], Size: f.size}
	}
	return out
}

// normalizeLabels lower-cases, trims, de-duplicates and sorts labels so that
// matching ignores case and repetition, and so that notes print them in a
// stable order.
func normalizeLabels(labels []string) []string {
	out := make([]string, 0, len(labels))
	for _, l := range labels {
		l = strings.ToLower(strings.TrimSpace(l))
		if l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// poolMatch is a match by index into the matcher's pool slice, so Decide can
// find its bookkeeping for the pool without copying it.
type poolMatch struct {
	pool int
	size Size
}

type indexedPool struct {
	idx    int
	labels map[string]bool
}

// matcher pre-computes each enabled pool's label set once, grouped by entity
// and ordered best first, because Decide matches every queued job.
type matcher struct {
	pools    []core.Pool
	byEntity map[string][]indexedPool
	sizes    map[string]parsedSize // ParseSize memo: jobs repeat few labels
}

type parsedSize struct {
	size Size
	ok   bool
}

func (m *matcher) parseSize(label string) (Size, bool) {
	p, seen := m.sizes[label]
	if !seen {
		p.size, p.ok = ParseSize(label)
		m.sizes[label] = p
	}
	return p.size, p.ok
}

func newMatcher(pools []core.Pool) *matcher {
	m := &matcher{pools: pools, byEntity: map[string][]indexedPool{}, sizes: map[string]parsedSize{}}
	for i := range pools {
		p := &pools[i]
		if !p.Enabled {
			continue
		}
		set := map[string]bool{impliedLabel: true}
		for _, l := range normalizeLabels(p.Labels) {
			set[l] = true
		}
		m.byEntity[p.EntityID] = append(m.byEntity[p.EntityID], indexedPool{idx: i, labels: set})
	}
	for _, list := range m.byEntity {
		slices.SortStableFunc(list, func(a, b indexedPool) int {
			return comparePoolRank(&pools[a.idx], &pools[b.idx])
		})
	}
	return m
}

// comparePoolRank orders pools best first: higher Priority, then Name, then ID.
func comparePoolRank(a, b *core.Pool) int {
	if a.Priority != b.Priority {
		if a.Priority > b.Priority {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// match expects labels already normalised.
func (m *matcher) match(entityID string, labels []string) []poolMatch {
	var out []poolMatch
	for _, ip := range m.byEntity[entityID] {
		if size, ok := m.serves(ip, labels); ok {
			out = append(out, poolMatch{pool: ip.idx, size: size})
		}
	}
	return out
}

func (m *matcher) serves(ip indexedPool, labels []string) (Size, bool) {
	var size Size
	for _, l := range labels {
		if ip.labels[l] {
			continue
		}
		if size.Label != "" {
			return Size{}, false // a second unmatched label: only one may be a size
		}
		s, ok := m.parseSize(l)
		if !ok || !s.Fits(m.pools[ip.idx].Sizes) {
			return Size{}, false
		}
		size = s
	}
	return size, true
}

package scheduler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// defaultRules apply to entities a snapshot gives no rules for (GitHub's).
var defaultRules = forge.LabelRulesFor(core.ForgeGitHub)

// MatchResult is one pool able to serve a job.
type MatchResult struct {
	Pool core.Pool
	// Size is the size the job asked for through a size label that the pool's
	// Sizes limits accept. Zero (Label "") when the job named no size, or when
	// the label was one of the pool's own labels.
	Size Size
}

// MatchPools returns the enabled pools serving entityID (its own, and shared
// pools listing it in Entities or open to every tenant) that can serve a job with
// these labels, best first (Priority descending, then Name, then ID).
//
// Labels compare as GitHub does: case-insensitively, with "self-hosted"
// always satisfied. Every job label must be one of the pool's labels, except
// those and at most one size label, which is satisfied when the pool's Sizes
// limits accept it. MatchPoolsWith applies another forge's rules.
func MatchPools(pools []core.Pool, entityID string, jobLabels []string) []MatchResult {
	return MatchPoolsWith(defaultRules, pools, entityID, jobLabels)
}

// MatchPoolsWith is MatchPools under the label rules of the entity's forge.
func MatchPoolsWith(rules forge.LabelRules, pools []core.Pool, entityID string, jobLabels []string) []MatchResult {
	m := newMatcher(pools, map[string]forge.LabelRules{entityID: rules}, nil)
	found := m.match(entityID, m.normalize(entityID, jobLabels))
	out := make([]MatchResult, len(found))
	for i, f := range found {
		out[i] = MatchResult{Pool: pools[f.pool], Size: f.size}
	}
	return out
}

// normalizeLabels trims, de-duplicates and sorts labels (and lower-cases
// them unless the forge is case-sensitive) so that matching ignores
// repetition, and so that notes print them in a stable order.
func normalizeLabels(labels []string, caseSensitive bool) []string {
	out := make([]string, 0, len(labels))
	for _, l := range labels {
		l = strings.TrimSpace(l)
		if !caseSensitive {
			l = strings.ToLower(l)
		}
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
	rules  forge.LabelRules
}

// matcher pre-computes each enabled pool's label set once, grouped by entity
// and ordered best first, because Decide matches every queued job.
type matcher struct {
	pools    []core.Pool
	byEntity map[string][]indexedPool
	sizes    map[string]parsedSize // ParseSize memo: jobs repeat few labels
	rules    map[string]forge.LabelRules
	// matches memoises matchJob by entity and labels as the job gives them
	// (keyBuf, so a hit does not allocate): thousands of queued jobs ask for
	// a few label sets, and each match scans every pool of the entity.
	matches map[string]*matchMemo
	keyBuf  []byte
	// sets shares one label set among pools whose labels and forge rules
	// are the same: pools of an installation repeat a few label lists.
	sets map[string]map[string]bool
	// Shared pools: tenantOf maps entity id to tenant name; open holds the
	// pools that serve every tenant or the default tenant, merged into an
	// entity's list by poolsOf.
	tenantOf map[string]string
	open     []int
	merged   map[string]bool
}

type matchMemo struct {
	entity string
	found  []poolMatch
	why    string // the job note when found is empty

	// Decide's per-memo cache, filled on first use: the entity's tenant and,
	// parallel to found, the group each match counts the job in. Both depend
	// only on the entity and the match, so every job of the memo shares them.
	tenant *tenantState
	groups []*group
}

// rulesOf returns the label rules of an entity's forge.
func (m *matcher) rulesOf(entityID string) forge.LabelRules {
	if r, ok := m.rules[entityID]; ok {
		return r
	}
	return defaultRules
}

// normalize prepares a job's labels for match under the entity's rules.
func (m *matcher) normalize(entityID string, labels []string) []string {
	return normalizeLabels(labels, m.rulesOf(entityID).CaseSensitive)
}

type parsedSize struct {
	size Size
	ok   bool
}

func (m *matcher) parseSize(label string) (Size, bool) {
	p, seen := m.sizes[label]
	if !seen {
		p.size, p.ok = core.ParseSize(label)
		m.sizes[label] = p
	}
	return p.size, p.ok
}

// newMatcher takes the label rules per entity id (entities without rules
// get GitHub's) and each entity's tenant name (absent: the default tenant).
func newMatcher(pools []core.Pool, rules map[string]forge.LabelRules, tenantOf map[string]string) *matcher {
	m := &matcher{pools: pools, byEntity: map[string][]indexedPool{}, sizes: map[string]parsedSize{}, rules: rules,
		matches: map[string]*matchMemo{}, sets: map[string]map[string]bool{}, tenantOf: tenantOf}
	members := map[string][]string{} // tenant name -> entity ids
	for e, t := range tenantOf {
		members[t] = append(members[t], e)
	}
	for _, list := range members {
		slices.Sort(list)
	}
	for i := range pools {
		p := &pools[i]
		if !p.Enabled {
			continue
		}
		m.add(i, p.EntityID)
		for _, e := range p.Entities {
			m.add(i, e)
		}
		for _, t := range p.Tenants {
			if t == core.AllTenants || t == core.DefaultTenant {
				// Members not known up front: any entity may be one.
				m.open = append(m.open, i)
				continue
			}
			for _, e := range members[t] {
				m.add(i, e)
			}
		}
	}
	for _, list := range m.byEntity {
		sortPools(pools, list)
	}
	return m
}

// add makes pool i serve entity e (once), under e's forge rules.
func (m *matcher) add(i int, e string) {
	// Only a shared pool can be added twice for one entity.
	if m.pools[i].Shared() && slices.ContainsFunc(m.byEntity[e], func(ip indexedPool) bool { return ip.idx == i }) {
		return
	}
	m.byEntity[e] = append(m.byEntity[e], m.index(i, e))
}

func (m *matcher) index(i int, e string) indexedPool {
	r := m.rulesOf(e)
	// NUL-separated parts: validated labels hold no NUL.
	k := append(m.keyBuf[:0], boolByte(r.CaseSensitive))
	for _, l := range r.Implied {
		k = append(append(k, l...), 0)
	}
	k = append(k, 0)
	for _, l := range m.pools[i].Labels {
		k = append(append(k, l...), 0)
	}
	m.keyBuf = k
	set := m.sets[string(k)]
	if set == nil {
		set = map[string]bool{}
		for _, l := range normalizeLabels(append(slices.Clone(r.Implied), m.pools[i].Labels...), r.CaseSensitive) {
			set[l] = true
		}
		m.sets[string(k)] = set
	}
	return indexedPool{idx: i, labels: set, rules: r}
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func sortPools(pools []core.Pool, list []indexedPool) {
	slices.SortStableFunc(list, func(a, b indexedPool) int {
		return comparePoolRank(&pools[a.idx], &pools[b.idx])
	})
}

// poolsOf returns the pools serving entity e, best first. Pools open to
// every tenant (or to the default tenant) join the entity's list on first use.
func (m *matcher) poolsOf(e string) []indexedPool {
	if len(m.open) == 0 {
		return m.byEntity[e]
	}
	if m.merged == nil {
		m.merged = map[string]bool{}
	}
	if m.merged[e] {
		return m.byEntity[e]
	}
	m.merged[e] = true
	_, inTenant := m.tenantOf[e]
	for _, i := range m.open {
		if slices.Contains(m.pools[i].Tenants, core.AllTenants) || !inTenant {
			m.add(i, e)
		}
	}
	sortPools(m.pools, m.byEntity[e])
	return m.byEntity[e]
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

// matchJob normalises a job's labels and returns match and, when nothing
// matches, the job's note (with explain's reason), remembered per entity and
// label list as the job gives it. The memo is shared: callers must not
// change found.
func (m *matcher) matchJob(entityID string, raw []string) *matchMemo {
	// NUL-terminated parts: validated ids and labels hold no NUL.
	m.keyBuf = append(append(m.keyBuf[:0], entityID...), 0)
	for _, l := range raw {
		m.keyBuf = append(append(m.keyBuf, l...), 0)
	}
	if r := m.matches[string(m.keyBuf)]; r != nil {
		return r
	}
	labels := m.normalize(entityID, raw)
	r := &matchMemo{entity: entityID, found: m.match(entityID, labels)}
	if len(r.found) == 0 {
		r.why = fmt.Sprintf("no enabled pool of this entity matches labels %v", labels)
		if why := m.explain(entityID, labels); why != "" {
			r.why += ": " + why
		}
	}
	m.matches[string(m.keyBuf)] = r
	return r
}

// match expects labels already normalised.
func (m *matcher) match(entityID string, labels []string) []poolMatch {
	var out []poolMatch
	for _, ip := range m.poolsOf(entityID) {
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
		// A case-sensitive forge offers the job only to a runner registered
		// with the label exactly as written, and sizes register lower-cased.
		if !ok || (ip.rules.CaseSensitive && s.Label != l) || !s.Fits(m.pools[ip.idx].Sizes) {
			return Size{}, false
		}
		size = s
	}
	return size, true
}

// explain says why no pool of the entity matches labels (normalised) when a
// pool would have matched but for the forge's rules: a label in another case,
// a label GitHub implies but this forge does not, or an upper-case size
// label. It returns "" when the labels simply do not match any pool.
func (m *matcher) explain(entityID string, labels []string) string {
	for _, ip := range m.poolsOf(entityID) {
		r := ip.rules
		p := &m.pools[ip.idx]
		var reasons []string
		lenient := true
		for _, l := range labels {
			if ip.labels[l] {
				continue
			}
			if s, ok := m.parseSize(l); ok && s.Fits(p.Sizes) && s.Label != l {
				reasons = append(reasons, fmt.Sprintf("size label %q must be written in lower case on %s", l, r.Forge))
				continue
			}
			if i := slices.IndexFunc(p.Labels, func(have string) bool { return strings.EqualFold(strings.TrimSpace(have), l) }); i >= 0 {
				reasons = append(reasons, fmt.Sprintf("pool %q has label %q; %s matches case-sensitively", p.Name, strings.TrimSpace(p.Labels[i]), r.Forge))
				continue
			}
			if slices.ContainsFunc(defaultRules.Implied, func(im string) bool { return strings.EqualFold(im, l) }) {
				reasons = append(reasons, fmt.Sprintf("pool %q lacks label %q, which %s does not imply: add it to the pool's labels", p.Name, l, r.Forge))
				continue
			}
			if _, ok := m.parseSize(l); ok {
				continue // a size label the pool's limits refuse: not a rules matter
			}
			lenient = false
			break
		}
		if lenient && len(reasons) > 0 {
			return strings.Join(reasons, "; ")
		}
	}
	return ""
}

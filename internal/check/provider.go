package check

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"unicode"

	"github.com/paddock-ci/paddock/internal/core"
)

// Limits on a pool's provider settings: they are stored with the pool and
// handed to the provider on every create.
const (
	MaxExtraSpecsBytes = 16 << 10
	MaxFlavors         = 64
	MaxFlavorLen       = 255
)

// providerSettings checks a pool's extra_specs (a JSON object, not
// runner_install_template, which Paddock sets) and flavors (size label →
// provider flavor).
func (e *Errors) providerSettings(extra json.RawMessage, flavors map[string]string) {
	if t := bytes.TrimSpace(extra); len(t) > 0 && string(t) != "null" {
		var m map[string]json.RawMessage
		switch {
		case len(t) > MaxExtraSpecsBytes:
			e.add("extra_specs", "extra_specs is %d bytes; at most %d", len(t), MaxExtraSpecsBytes)
		case json.Unmarshal(t, &m) != nil || m == nil:
			e.add("extra_specs", `extra_specs must be a JSON object of the provider's pool settings, such as {"disable_updates": true}`)
		default:
			if _, ok := m["runner_install_template"]; ok {
				e.add("extra_specs", "extra_specs.runner_install_template is set by Paddock for every machine (it fetches the single-use runner config); remove it")
			}
		}
	}
	if len(flavors) > MaxFlavors {
		e.add("flavors", "%d entries; at most %d", len(flavors), MaxFlavors)
		return
	}
	keys := make([]string, 0, len(flavors))
	for k := range flavors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]bool{}
	for _, k := range keys {
		v := flavors[k]
		s, ok := core.ParseSize(k)
		switch {
		case !ok:
			e.add("flavors", "%q is not a size label (want <n>cpu-<m>gb, <n>cpu-<m>gb-<d>gb, small, medium or large)", k)
		case seen[s.Label]:
			e.add("flavors", "%q is listed twice (size labels ignore case)", s.Label)
		case v == "" || len(v) > MaxFlavorLen || strings.IndexFunc(v, unicode.IsControl) >= 0:
			e.add("flavors", "flavors[%q] must be a provider flavor name (1-%d printable characters)", k, MaxFlavorLen)
		}
		if ok {
			seen[s.Label] = true
		}
	}
}

// NormalFlavors writes a pool's flavor keys as the size labels they are
// (lower case), as machines are matched to them. Keys that would collide
// are left for Pool to report.
func NormalFlavors(p *core.Pool) {
	if len(p.Flavors) == 0 {
		return
	}
	out := make(map[string]string, len(p.Flavors))
	for k, v := range p.Flavors {
		l := k
		if s, ok := core.ParseSize(k); ok {
			l = s.Label
		}
		if _, dup := out[l]; dup {
			return
		}
		out[l] = v
	}
	p.Flavors = out
}

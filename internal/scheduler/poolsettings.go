package scheduler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// Limits on a pool's provider settings: they are stored with the pool and
// handed to the provider on every create.
const (
	maxExtraSpecsBytes = 16 << 10
	maxFlavors         = 64
	maxFlavorLen       = 255
)

// CheckProviderSettings checks a pool's extra_specs (a JSON object, not
// runner_install_template, which Paddock sets) and flavors (size label →
// provider flavor). Flavor keys are lower-cased in place, as size labels are
// matched without regard to case.
func CheckProviderSettings(extra json.RawMessage, flavors map[string]string) error {
	if t := bytes.TrimSpace(extra); len(t) > 0 && string(t) != "null" {
		if len(t) > maxExtraSpecsBytes {
			return fmt.Errorf("extra_specs is %d bytes; at most %d", len(t), maxExtraSpecsBytes)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(t, &m); err != nil || m == nil {
			return fmt.Errorf(`extra_specs must be a JSON object of the provider's pool settings, such as {"disable_updates": true}`)
		}
		if _, ok := m["runner_install_template"]; ok {
			return fmt.Errorf("extra_specs.runner_install_template is set by Paddock for every machine (it fetches the single-use runner config); remove it")
		}
	}
	if len(flavors) > maxFlavors {
		return fmt.Errorf("flavors has %d entries; at most %d", len(flavors), maxFlavors)
	}
	keys := make([]string, 0, len(flavors))
	for k := range flavors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := flavors[k]
		s, ok := ParseSize(k)
		if !ok {
			return fmt.Errorf("flavors: %q is not a size label (want <n>cpu-<m>gb, <n>cpu-<m>gb-<d>gb, small, medium or large)", k)
		}
		if v == "" || len(v) > maxFlavorLen || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return fmt.Errorf("flavors[%q] must be a provider flavor name (1-%d printable characters)", k, maxFlavorLen)
		}
		if s.Label != k {
			if _, dup := flavors[s.Label]; dup {
				return fmt.Errorf("flavors lists %q twice (size labels ignore case)", s.Label)
			}
			delete(flavors, k)
			flavors[s.Label] = v
		}
	}
	return nil
}

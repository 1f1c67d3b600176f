package api

import (
	"bytes"
	"encoding/json"
	"maps"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
)

// applyProviderSettings sets a pool's extra_specs and flavors from a create
// or PATCH body; absent fields are left unchanged.
func applyProviderSettings(in poolInput, p *core.Pool) check.Errors {
	if len(in.ExtraSpecs) > 0 {
		if string(bytes.TrimSpace(in.ExtraSpecs)) == "null" {
			p.ExtraSpecs = nil
		} else {
			var compact bytes.Buffer
			if err := json.Compact(&compact, in.ExtraSpecs); err != nil {
				return check.Errors{{Field: "extra_specs", Message: `must be a JSON object of the provider's pool settings, such as {"disable_updates": true}`}}
			}
			p.ExtraSpecs = compact.Bytes()
		}
	}
	if in.Flavors != nil {
		p.Flavors = maps.Clone(*in.Flavors)
		if len(p.Flavors) == 0 {
			p.Flavors = nil
		}
		check.NormalFlavors(p)
	}
	return nil // check.Pool checks them with the rest of the pool
}

package api

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"

	"github.com/paddock-ci/paddock/internal/check"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/scheduler"
)

// applyProviderSettings sets a pool's extra_specs and flavors from a create
// or PATCH body and checks them; absent fields are left unchanged.
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
	}
	if err := scheduler.CheckProviderSettings(p.ExtraSpecs, p.Flavors); err != nil {
		field := "extra_specs"
		if strings.HasPrefix(err.Error(), "flavors") {
			field = "flavors"
		}
		return check.Errors{{Field: field, Message: err.Error()}}
	}
	return nil
}

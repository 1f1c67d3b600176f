package config

import (
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
)

// scaleSet checks a pool declared as a GitHub runner scale set. GitHub routes
// a job to a scale set by its name alone, so the pool must name one, and size
// labels (which the scheduler matches per job) cannot reach it.
func (v *validator) scaleSet(path string, pl PoolConfig) {
	if !pl.ScaleSet {
		return
	}
	// check.Pool refuses a scale set without a name or with sizes; here are
	// the rules that need the rest of the file.
	name := pl.ToCore("").ScaleSetName()
	if k, ok := v.poolForgeKind(pl); ok && k != core.ForgeGitHub {
		v.p.at(path+".scale_set", "runner scale sets exist only on GitHub (this pool's forge is %s)", k)
	}
	for i, other := range v.c.Pools {
		if other.Name == pl.Name || !other.ScaleSet || other.Entity != pl.Entity || other.Forge != pl.Forge {
			continue
		}
		if name != "" && strings.EqualFold(other.ToCore("").ScaleSetName(), name) {
			v.p.at(path+".labels", "scale set %q is already served by pools[%d] (%s)", name, i, other.Name)
			return
		}
	}
}

// poolForgeKind finds the kind of the forge a pool's entity lives on, when
// the file declares enough to tell.
func (v *validator) poolForgeKind(pl PoolConfig) (core.ForgeKind, bool) {
	forge := pl.Forge
	if forge == "" {
		for _, e := range v.c.Entities {
			if e.Name == pl.Entity {
				forge = e.Forge
				break
			}
		}
	}
	for _, f := range v.c.Forges {
		if f.Name == forge {
			return f.Kind, f.Kind != ""
		}
	}
	return "", false
}

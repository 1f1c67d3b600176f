package config

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/paddock-ci/paddock/internal/core"
)

// The file's forges, entities and pools are seeds: at start the caller
// upserts them by name, forges first, so each entity can be given its forge's
// ID and each pool its entity's ID. IDs and timestamps are the store's to set.

// ToCore converts a forge seed.
func (f ForgeConfig) ToCore() core.Forge {
	return core.Forge{
		Name:          f.Name,
		Kind:          f.Kind,
		APIURL:        f.APIURL,
		WebURL:        f.WebURL,
		WebhookSecret: string(f.WebhookSecret),
		Credential:    f.Credential.ToCore(),
	}
}

// ToCore converts a credential seed.
func (c CredentialConfig) ToCore() core.Credential {
	return core.Credential{
		Kind:           c.Kind,
		Token:          string(c.Token),
		AppID:          c.AppID,
		InstallationID: c.InstallationID,
		PrivateKeyPEM:  string(c.PrivateKey),
	}
}

// ToCore converts an entity seed for the forge with ID forgeID.
func (e EntityConfig) ToCore(forgeID string) core.Entity {
	return core.Entity{ForgeID: forgeID, Kind: e.Kind, Name: e.Name, Intake: e.Intake}
}

// ToCore converts a pool seed for the entity with ID entityID.
func (p PoolConfig) ToCore(entityID string) core.Pool {
	pool := core.Pool{
		Name:              p.Name,
		EntityID:          entityID,
		Provider:          p.Provider,
		Image:             p.Image,
		Flavor:            p.Flavor,
		OSType:            p.OSType,
		Arch:              p.Arch,
		Labels:            slices.Clone(p.Labels),
		MinIdle:           p.MinIdle,
		MaxRunners:        p.MaxRunners,
		FreeTargetPercent: p.FreeTargetPercent,
		Priority:          p.Priority,
		BootstrapTimeout:  p.BootstrapTimeout,
		MaxJobRuntime:     p.MaxJobRuntime,
		RunnerGroup:       p.RunnerGroup,
		RunnerPrefix:      p.RunnerPrefix,
		ScaleSet:          p.ScaleSet,
		Enabled:           p.Enabled,
		Tenants:           slices.Clone(p.Tenants),
	}
	if p.Labels == nil {
		pool.Labels = []string{}
	}
	if s := p.Sizes; s != nil {
		pool.Sizes = &core.SizeLimits{MaxCPU: s.MaxCPU, MaxMemoryGB: s.MaxMemoryGB, MaxDiskGB: s.MaxDiskGB}
	}
	if len(p.ExtraSpecs) > 0 {
		pool.ExtraSpecs = json.RawMessage(slices.Clone(p.ExtraSpecs))
	}
	if len(p.Flavors) > 0 {
		pool.Flavors = maps.Clone(p.Flavors)
	}
	return pool
}

// Provider returns the provider named name.
func (c *Config) Provider(name string) (ProviderConfig, bool) {
	i := slices.IndexFunc(c.Providers, func(p ProviderConfig) bool { return p.Name == name })
	if i < 0 {
		return ProviderConfig{}, false
	}
	return c.Providers[i], true
}

// Forge returns the forge seed named name.
func (c *Config) Forge(name string) (ForgeConfig, bool) {
	i := slices.IndexFunc(c.Forges, func(f ForgeConfig) bool { return f.Name == name })
	if i < 0 {
		return ForgeConfig{}, false
	}
	return c.Forges[i], true
}

func (c *Config) matchEntities(p PoolConfig) []EntityConfig {
	var m []EntityConfig
	for _, e := range c.Entities {
		if e.Name == p.Entity && (p.Forge == "" || p.Forge == e.Forge) {
			m = append(m, e)
		}
	}
	return m
}

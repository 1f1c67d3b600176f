package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadProviderFile reads the file `paddock provider-exec` is given through
// GARM_PROVIDER_CONFIG_FILE when it serves a qemu or kubernetes provider: a
// state_dir and exactly one provider block, written as in paddock.yaml. It is
// checked as strictly as paddock.yaml (line numbers, all problems at once).
func LoadProviderFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	p := newProblems(path)
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.add(0, "", "%v", err)
		return nil, p.err()
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		p.add(0, "", "file is empty (want state_dir and providers)")
		return nil, p.err()
	}
	cfg := &Config{}
	d := &decoder{dir: dir, p: p}
	d.value(doc.Content[0], "", reflect.ValueOf(cfg).Elem())
	for key := range p.set {
		top, _, _ := strings.Cut(key, ".")
		top, _, _ = strings.Cut(top, "[")
		if top != "state_dir" && top != "providers" {
			p.at(key, "not used in a provider file (only state_dir and providers)")
		}
	}
	if cfg.StateDir == "" {
		p.at("state_dir", "required")
	}
	v := &validator{c: cfg, p: p}
	v.providers()
	if len(cfg.Providers) > 1 {
		p.at("providers", "a provider file holds exactly one provider (got %d)", len(cfg.Providers))
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	applyDefaults(cfg, p.set, dir)
	return cfg, nil
}

package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// validate checks cfg as decoded (before defaults), adding to p. A zero value
// means "not given" unless p.set says the key was written.
func validate(c *Config, p *problems) {
	v := &validator{c: c, p: p}
	v.server()
	v.store()
	v.controller()
	v.ha()
	v.providers()
	v.forges()
	v.webhookSecrets()
	v.entities()
	v.pools()
	v.tenants()
	v.prices()
}

type validator struct {
	c *Config
	p *problems
}

// nameRE is what provider, forge and pool names must look like: they appear
// in URLs (/webhooks/{forge}), metrics labels and log lines.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// providerBlocks holds, per provider type, the check of its config block
// (which also refuses the block under another type). Each type registers
// itself from its validate_<type>.go, so adding a type edits no list here.
var providerBlocks = map[string]func(v *validator, path string, pr ProviderConfig){}

// knownProviders lists the provider types, sorted.
func knownProviders() []string { return slices.Sorted(maps.Keys(providerBlocks)) }

// ProviderTypes lists the provider types a config may name, sorted.
func ProviderTypes() []string { return knownProviders() }

const minInterval = 5 * time.Second

func (v *validator) server() {
	s := v.c.Server
	if s.Listen != "" {
		checkListen(v.p, "server.listen", s.Listen)
	}
	if s.PublicURL != "" {
		v.url("server.public_url", s.PublicURL)
	}
	if s.AdminToken == "" {
		v.p.at("server.admin_token", "required (e.g. env:PADDOCK_ADMIN_TOKEN)")
	}
	v.serverAuth()
	v.serverLimits()
}

func checkListen(p *problems, path, listen string) {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		p.at(path, "must be host:port such as 127.0.0.1:8080, got %q", listen)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.at(path, "port %q must be a number from 0 to 65535", port)
	}
}

func (v *validator) store() {
	s := v.c.Store
	switch s.Driver {
	case "", "sqlite":
		if s.DSN != "" {
			v.p.at("store.dsn", "only used with driver: postgres (sqlite keeps its data in store.path)")
		}
	case "postgres":
		v.postgresDSN(string(s.DSN))
	default:
		v.p.at("store.driver", "unknown driver %q (want sqlite or postgres)", s.Driver)
	}
	if s.EncryptionKey == "" {
		v.p.at("store.encryption_key", "required (e.g. env:PADDOCK_ENCRYPTION_KEY; generate with: openssl rand -hex 32)")
	} else if _, err := decodeKey(string(s.EncryptionKey)); err != nil {
		v.p.at("store.encryption_key", "%v", err)
	}
}

func (v *validator) controller() {
	c := v.c.Controller
	v.minDuration("controller.reconcile_interval", c.ReconcileInterval, minInterval)
	v.minDuration("controller.idle_grace", c.IdleGrace, 0)
	v.minDuration("controller.poll_interval", c.PollInterval, minInterval)
	v.minInt("controller.max_create_attempts", c.MaxCreateAttempts, 1)
	v.minInt("controller.poll_budget_per_hour", c.PollBudgetPerHour, 1)
	v.retention()
}

func (v *validator) providers() {
	if len(v.c.Providers) == 0 {
		v.p.at("providers", "at least one provider is required")
	}
	names := map[string]string{}
	for i, pr := range v.c.Providers {
		path := fmt.Sprintf("providers[%d]", i)
		v.name(path, pr.Name, names)
		switch {
		case pr.Type == "":
			v.p.at(path+".type", "required (one of %s)", strings.Join(knownProviders(), ", "))
		case providerBlocks[pr.Type] == nil:
			v.p.at(path+".type", "unknown provider type %q (want one of %s)", pr.Type, strings.Join(knownProviders(), ", "))
		}
		v.minInt(path+".max_parallel", pr.MaxParallel, 1)
		v.capacity(path, pr.Capacity)
		for _, typ := range knownProviders() {
			providerBlocks[typ](v, path, pr)
		}
	}
}

// name checks a list item's name is present, well-formed and unique; seen
// maps names to the path that first used them.
func (v *validator) name(path, name string, seen map[string]string) {
	path += ".name"
	switch {
	case name == "":
		v.p.at(path, "required")
	case !nameRE.MatchString(name):
		v.p.at(path, "%q must be letters, digits, '.', '_' or '-' (at most 63, starting with a letter or digit)", name)
	case seen[name] != "":
		v.p.at(path, "duplicate name %q (first used at %s, line %d)", name, seen[name], v.p.lineOf(seen[name]))
	default:
		seen[name] = path
	}
}

func (v *validator) url(path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.p.at(path, "must be an http:// or https:// URL with a host, got %q", raw)
	}
}

// minDuration checks a duration key that was written is at least lo.
func (v *validator) minDuration(path string, d, lo time.Duration) {
	if !v.p.set[path] || d >= lo {
		return
	}
	if lo == 0 {
		v.p.at(path, "must not be negative")
		return
	}
	v.p.at(path, "must be at least %s", lo)
}

// minInt checks an integer key that was written is at least lo.
func (v *validator) minInt(path string, n, lo int) {
	if v.p.set[path] && n < lo {
		v.p.at(path, "must be ≥ %d", lo)
	}
}

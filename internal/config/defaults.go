package config

import (
	"cmp"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
)

// Defaults for keys left out of the file.
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultStateDir          = "/var/lib/paddock"
	DefaultReconcileInterval = time.Minute
	DefaultIdleGrace         = 30 * time.Second
	DefaultMaxCreateAttempts = 5
	DefaultPollInterval      = 5 * time.Minute
	DefaultPollBudgetPerHour = 1200 // of GitHub's 5000 per PAT: the rest is for runners and reconcile
	DefaultMaxParallel       = 8
	DefaultImage             = check.DefaultImage
	DefaultBootstrapTimeout  = check.DefaultBootstrapTimeout
	DefaultMaxJobRuntime     = check.DefaultMaxJobRuntime
	DefaultRunnerPrefix      = check.DefaultRunnerPrefix
	DefaultGitHubAPIURL      = check.DefaultGitHubAPIURL
	DefaultGitHubWebURL      = check.DefaultGitHubWebURL
	DefaultInterfaceVersion  = "auto"
	DefaultExecTimeout       = 2 * time.Minute
)

// applyDefaults fills what the file left out. It runs after validation, so it
// may assume values are well-formed; set says which keys were written, for
// keys whose zero value is meaningful (enabled: false, max_job_runtime: 0).
func applyDefaults(c *Config, set map[string]bool, dir string) {
	s := &c.Server
	s.Listen = cmp.Or(s.Listen, DefaultListen)
	if s.PublicURL == "" {
		s.PublicURL = publicURLFor(s.Listen)
	}
	s.PublicURL = strings.TrimRight(s.PublicURL, "/")
	applyLimitDefaults(&s.Limits)

	c.StateDir = resolvePath(cmp.Or(c.StateDir, DefaultStateDir), dir)
	c.Store.Driver = cmp.Or(c.Store.Driver, "sqlite")
	c.Store.Path = resolvePath(cmp.Or(c.Store.Path, filepath.Join(c.StateDir, "paddock.db")), dir)

	c.HA.Lease = cmp.Or(c.HA.Lease, DefaultHALease)

	ct := &c.Controller
	ct.ReconcileInterval = cmp.Or(ct.ReconcileInterval, DefaultReconcileInterval)
	if !set["controller.idle_grace"] {
		ct.IdleGrace = DefaultIdleGrace
	}
	ct.MaxCreateAttempts = cmp.Or(ct.MaxCreateAttempts, DefaultMaxCreateAttempts)
	ct.PollInterval = cmp.Or(ct.PollInterval, DefaultPollInterval)
	ct.PollBudgetPerHour = cmp.Or(ct.PollBudgetPerHour, DefaultPollBudgetPerHour)
	ct.Retention.Jobs = cmp.Or(ct.Retention.Jobs, core.DefaultJobRetention)
	ct.Retention.DeletedInstances = cmp.Or(ct.Retention.DeletedInstances, core.DefaultInstanceRetention)
	ct.Retention.Deliveries = cmp.Or(ct.Retention.Deliveries, core.DefaultDeliveryRetention)

	if c.Prices != nil {
		check.PriceDefaults(c.Prices, func(f string) bool { return set["prices."+f] })
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		p.MaxParallel = cmp.Or(p.MaxParallel, DefaultMaxParallel)
		if p.Process != nil {
			p.Process.WorkDir = resolvePath(p.Process.WorkDir, dir)
		}
		if k := p.Kubernetes; k != nil {
			k.Kubeconfig = resolvePath(k.Kubeconfig, dir)
			k.Mode = cmp.Or(k.Mode, "pod")
		}
		if e := p.External; e != nil {
			e.ProviderExecutable = resolvePath(e.ProviderExecutable, dir)
			e.ConfigFile = resolvePath(e.ConfigFile, dir)
			e.CACertBundle = resolvePath(e.CACertBundle, dir)
			e.InterfaceVersion = cmp.Or(e.InterfaceVersion, DefaultInterfaceVersion)
			e.ExecTimeout = cmp.Or(e.ExecTimeout, DefaultExecTimeout)
		}
	}
	for i := range c.Forges {
		f := &c.Forges[i]
		cf := f.ToCore()
		check.ForgeDefaults(&cf)
		f.APIURL, f.WebURL = cf.APIURL, cf.WebURL
	}
	for i := range c.Entities {
		e := &c.Entities[i]
		ce := e.ToCore("")
		check.EntityDefaults(&ce)
		e.Kind, e.Intake = ce.Kind, ce.Intake
	}
	for i := range c.Pools {
		p := &c.Pools[i]
		path := fmt.Sprintf("pools[%d]", i)
		cp := p.ToCore("")
		check.PoolDefaults(&cp, func(field string) bool { return set[path+"."+field] })
		p.Image, p.OSType, p.Arch, p.RunnerPrefix = cp.Image, cp.OSType, cp.Arch, cp.RunnerPrefix
		p.MaxRunners, p.BootstrapTimeout, p.MaxJobRuntime, p.Enabled = cp.MaxRunners, cp.BootstrapTimeout, cp.MaxJobRuntime, cp.Enabled
		p.Flavors = cp.Flavors // size labels in lower case
	}
}

// publicURLFor derives the URL to reach a listen address; a wildcard host
// becomes loopback, the only address known to reach this machine.
func publicURLFor(listen string) string {
	host, port, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

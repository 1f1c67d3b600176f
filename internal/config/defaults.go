package config

import (
	"cmp"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

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
	DefaultImage             = "default"
	DefaultBootstrapTimeout  = 20 * time.Minute
	DefaultMaxJobRuntime     = 6 * time.Hour
	DefaultRunnerPrefix      = "paddock"
	DefaultGitHubAPIURL      = "https://api.github.com/"
	DefaultGitHubWebURL      = "https://github.com/"
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

	c.StateDir = resolvePath(cmp.Or(c.StateDir, DefaultStateDir), dir)
	c.Store.Driver = cmp.Or(c.Store.Driver, "sqlite")
	c.Store.Path = resolvePath(cmp.Or(c.Store.Path, filepath.Join(c.StateDir, "paddock.db")), dir)

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
		if f.Kind == core.ForgeGitHub {
			f.APIURL = cmp.Or(f.APIURL, DefaultGitHubAPIURL)
			f.WebURL = cmp.Or(f.WebURL, DefaultGitHubWebURL)
		}
		// go-github (and the Gitea SDK) join paths onto a base URL that must
		// end in a slash.
		f.APIURL = withSlash(f.APIURL)
		f.WebURL = withSlash(f.WebURL)
	}
	for i := range c.Entities {
		c.Entities[i].Intake = cmp.Or(c.Entities[i].Intake, core.IntakeWebhook)
	}
	for i := range c.Pools {
		p := &c.Pools[i]
		path := fmt.Sprintf("pools[%d]", i)
		p.Image = cmp.Or(p.Image, DefaultImage)
		p.OSType = cmp.Or(p.OSType, "linux")
		p.Arch = cmp.Or(p.Arch, "x64")
		p.BootstrapTimeout = cmp.Or(p.BootstrapTimeout, DefaultBootstrapTimeout)
		if !set[path+".max_job_runtime"] {
			p.MaxJobRuntime = DefaultMaxJobRuntime
		}
		p.RunnerPrefix = cmp.Or(p.RunnerPrefix, DefaultRunnerPrefix)
		if !set[path+".enabled"] {
			p.Enabled = true
		}
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

func withSlash(u string) string {
	if u == "" || strings.HasSuffix(u, "/") {
		return u
	}
	return u + "/"
}

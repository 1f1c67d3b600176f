package config

import (
	"net"
	"path/filepath"

	"github.com/paddock-ci/paddock/internal/check"
)

// LXDConfig configures the lxd provider: one LXD system container per job.
type LXDConfig struct {
	// Socket is the daemon's unix socket; default $LXD_DIR/unix.socket or
	// /var/lib/lxd/unix.socket (Debian's package).
	Socket  string `yaml:"socket"`
	Project string `yaml:"project"` // default: LXD's default project
	// Image is the image alias used by pools that name none.
	Image string `yaml:"image"`
	// Profiles are applied to every container; a pool's flavor names one
	// more. Default: none (LXD's "default" profile only if listed).
	Profiles []string `yaml:"profiles"`
	// Network gives each container an eth0 on this bridge (NAT-only, as
	// scripts/lxd-setup makes it); StoragePool its root disk. Unset, the
	// profiles must provide them.
	Network     string `yaml:"network"`
	StoragePool string `yaml:"storage_pool"`
	CPU         int    `yaml:"cpu"`           // limits.cpu when the pool's size label gives none (0: no limit)
	MemoryMB    int    `yaml:"memory_mb"`     // limits.memory likewise
	MaxCPU      int    `yaml:"max_cpu"`       // cap for size labels; default 4
	MaxMemoryMB int    `yaml:"max_memory_mb"` // cap for size labels; default 8192
	// Forward lists extra host loopback endpoints (127.0.0.1:port) that
	// containers reach at 127.0.0.1 on the same port; Paddock's own endpoint
	// is always carried when its URL is on loopback.
	Forward []string `yaml:"forward"`
}

func init() { providerBlocks["lxd"] = (*validator).lxd }

// lxd checks a provider's lxd block (optional: the defaults suit Debian's
// package set up by scripts/lxd-setup, with pools naming their image).
func (v *validator) lxd(path string, pr ProviderConfig) {
	l := pr.LXD
	path += ".lxd"
	if l == nil {
		return
	}
	if pr.Type != "lxd" {
		v.p.at(path, "only valid for type lxd")
		return
	}
	if l.Socket != "" && !filepath.IsAbs(l.Socket) {
		v.p.at(path+".socket", "%q: want an absolute path to LXD's unix socket", l.Socket)
	}
	if l.Image != "" {
		if msg := check.LXDImageProblem(l.Image); msg != "" {
			v.p.at(path+".image", "%s", msg)
		}
	}
	for field, name := range map[string]string{"project": l.Project, "network": l.Network, "storage_pool": l.StoragePool} {
		if name != "" {
			if msg := check.LXDNameProblem(field, name); msg != "" {
				v.p.at(path+"."+field, "%s", msg)
			}
		}
	}
	for _, pf := range l.Profiles {
		if msg := check.LXDNameProblem("profile", pf); msg != "" {
			v.p.at(path+".profiles", "%s", msg)
		}
	}
	for name, n := range map[string]int{"cpu": l.CPU, "memory_mb": l.MemoryMB, "max_cpu": l.MaxCPU, "max_memory_mb": l.MaxMemoryMB} {
		if n < 0 {
			v.p.at(path+"."+name, "must not be negative")
		}
	}
	for _, f := range l.Forward {
		host, _, err := net.SplitHostPort(f)
		if ip := net.ParseIP(host); err != nil || host != "localhost" && (ip == nil || !ip.IsLoopback() || ip.To4() == nil) {
			v.p.at(path+".forward", "%q: want 127.0.0.1:port (containers reach only the host's loopback, through LXD proxy devices)", f)
		}
	}
}

package demo

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider/external"
)

// ExternalOptions let `demo --provider external` drive machines that are not
// on this host (LXD VMs, cloud instances): they must reach the manager and
// the simulated forge over the network, and run their own paddock binary as
// the simulated runner.
type ExternalOptions struct {
	// Listen is the manager's listen address (default 127.0.0.1:0). The
	// simulator listens on the same host, on a free port.
	Listen string
	// PublicURL is how machines reach the manager (default http://<listen>).
	// The simulator is announced to machines on the same host, its own port.
	PublicURL string
	// Image and Flavor are the demo pools' image and flavor, handed to the
	// provider as-is (an LXD image alias and profile, an AMI and instance type …).
	Image, Flavor string
	// InterfaceVersion is auto (default: asked of the executable), v0.1.0 or v0.1.1.
	InterfaceVersion string
	// MachinePaddock is the paddock binary's path on the machines (the
	// simulated runner runs `<it> agent`); default this binary's path, right
	// only for machines that share this host's filesystem.
	MachinePaddock string
}

func (e ExternalOptions) set() bool { return e != ExternalOptions{} }

func checkExternal(o Options) error {
	e := o.External
	if o.Provider != "external" {
		if e.set() {
			return errors.New("--listen, --public-url, --image, --flavor, --interface-version and --machine-paddock need --provider external")
		}
		return nil
	}
	if e.Listen != "" {
		if _, _, err := net.SplitHostPort(e.Listen); err != nil {
			return fmt.Errorf("--listen %q: want host:port (such as 0.0.0.0:8080): %v", e.Listen, err)
		}
	}
	if e.PublicURL != "" {
		u, err := url.Parse(e.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("--public-url %q: want http://host:port, the address machines dial", e.PublicURL)
		}
	}
	if v := e.InterfaceVersion; v != "" && v != external.VersionAuto && v != external.V010 && v != external.V011 {
		return fmt.Errorf("--interface-version %q: want auto, v0.1.0 or v0.1.1", v)
	}
	for name, v := range map[string]string{"--image": e.Image, "--flavor": e.Flavor, "--machine-paddock": e.MachinePaddock} {
		if strings.ContainsAny(v, "\n\r\"") {
			return fmt.Errorf("%s must be one line without quotes", name)
		}
	}
	return nil
}

// simListen: the simulator listens where the manager does, on a free port.
func simListen(o Options, l net.Listener) string {
	if o.Provider != "external" || o.External.Listen == "" {
		return "127.0.0.1:0"
	}
	host, _, _ := net.SplitHostPort(l.Addr().String())
	return net.JoinHostPort(host, "0")
}

// externalMachineURLs tells the simulator how machines reach it: the public
// URL's host, the simulator's own port.
func externalMachineURLs(o Options, sim *forgesim.Sim) error {
	if o.Provider != "external" || o.External.PublicURL == "" {
		return nil
	}
	pu, _ := url.Parse(o.External.PublicURL)
	su, err := url.Parse(sim.URL())
	if err != nil {
		return err
	}
	sim.SetMachineURL(pu.Scheme + "://" + net.JoinHostPort(pu.Hostname(), su.Port()) + "/")
	return nil
}

// applyExternal sets the public URL and the pools' image and flavor.
func applyExternal(o Options, cfg *config.Config) {
	if o.Provider != "external" {
		return
	}
	if u := o.External.PublicURL; u != "" {
		cfg.Server.PublicURL = strings.TrimRight(u, "/")
	}
	for i := range cfg.Pools {
		if o.External.Image != "" {
			cfg.Pools[i].Image = o.External.Image
		}
		if o.External.Flavor != "" {
			cfg.Pools[i].Flavor = o.External.Flavor
		}
	}
}

// Package lxd is the "lxd" provider: one LXD system container per instance,
// created from an image alias, started with Paddock's bootstrap and powered
// off by it when its one job is done.
//
// Ownership lives in the instance's own config (user.paddock.controller-id,
// user.paddock.pool-id), so a restarted manager finds, lists and deletes its
// containers, and never one it cannot prove it owns. The token is not in
// that config: it is pushed into the stopped container as a root-only file
// (see boot.go). The manager's endpoints are reached through LXD proxy
// devices: the container connects to 127.0.0.1:PORT inside its own network
// namespace and LXD carries the connection to the same port on the host's
// loopback, so the manager need not listen on the bridge; the container's
// NIC is on a NAT-only bridge.
package lxd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/provider"
)

// Config keys on every instance this provider makes.
const (
	keyController = "user.paddock.controller-id"
	keyPool       = "user.paddock.pool-id"
	keyUserData   = "user.user-data"
	// LXD sets this when an instance first starts; an owned instance without
	// it was created by a Create that did not get to start it.
	keyLastPower = "volatile.last_state.power"
)

// DefaultSocket is where Debian's lxd package serves its API.
const DefaultSocket = "/var/lib/lxd/unix.socket"

// Options configure the provider.
type Options struct {
	ControllerID string
	// Socket is the daemon's unix socket; default $LXD_DIR/unix.socket or
	// DefaultSocket.
	Socket string
	// Project is the LXD project the instances live in ("" = default).
	Project string
	// Image is the alias used when the pool names no image.
	Image string
	// Profiles are applied to every instance (before the pool's flavor,
	// which names one more profile). Empty: none, not LXD's "default".
	Profiles []string
	// Network, if set, gives each container an eth0 NIC on this (NAT-only)
	// bridge; StoragePool, if set, its root disk on this pool. Unset, the
	// profiles must provide them.
	Network, StoragePool string
	// CPU and MemoryMB apply when the pool's size label gives none (0: no
	// limit); MaxCPU and MaxMemoryMB cap what a size label may ask for.
	CPU, MemoryMB       int
	MaxCPU, MaxMemoryMB int
	// Forward lists extra host loopback endpoints (127.0.0.1:port) that
	// containers reach at 127.0.0.1 on the same port, e.g. a forge simulator.
	Forward []string
	// StartGrace is how long a created, never-started instance counts as
	// still starting; default 2m.
	StartGrace time.Duration
	Logger     *slog.Logger
}

// Provider runs one LXD container per instance.
type Provider struct {
	opts Options
	c    *client
}

// New checks the options; it does not contact the daemon (a daemon that is
// down shows as failing calls, and the pool recovers when it is back).
func New(opts Options) (*Provider, error) {
	if opts.ControllerID == "" {
		return nil, errors.New("lxd provider: controller id is required")
	}
	if opts.Socket == "" {
		opts.Socket = DefaultSocket
		if d := os.Getenv("LXD_DIR"); d != "" {
			opts.Socket = strings.TrimSuffix(d, "/") + "/unix.socket"
		}
	}
	if opts.MaxCPU <= 0 {
		opts.MaxCPU = 4
	}
	if opts.MaxMemoryMB <= 0 {
		opts.MaxMemoryMB = 8192
	}
	if opts.StartGrace <= 0 {
		opts.StartGrace = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	for _, f := range opts.Forward {
		if _, err := loopbackPort(f); err != nil {
			return nil, fmt.Errorf("lxd provider: forward %q: %w", f, err)
		}
	}
	return &Provider{opts: opts, c: newClient(opts.Socket, opts.Project)}, nil
}

// Create makes, fills and starts the container unless it exists. An owned
// container that was created but never started (a Create cut short) is
// filled and started now; one owned by another controller is an error.
func (p *Provider) Create(ctx context.Context, spec provider.Spec) (provider.Machine, error) {
	if err := validName(spec.Name); err != nil {
		return provider.Machine{}, err
	}
	devices, err := p.proxyDevices(spec)
	if err != nil {
		return provider.Machine{}, err
	}
	in, err := p.c.getInstance(ctx, spec.Name)
	switch {
	case isNotFound(err):
		in, err = p.create(ctx, spec, devices)
		if err != nil {
			return provider.Machine{}, err
		}
	case err != nil:
		return provider.Machine{}, err
	case in.Config[keyController] != p.opts.ControllerID:
		return provider.Machine{}, fmt.Errorf("lxd: an instance named %s exists and is not this controller's (%s is %q); choose another runner prefix",
			spec.Name, keyController, in.Config[keyController])
	}
	if in.Status == "Stopped" && in.Config[keyLastPower] == "" {
		if err := p.boot(ctx, spec); err != nil {
			return provider.Machine{}, err
		}
		if in, err = p.c.getInstance(ctx, spec.Name); err != nil {
			return provider.Machine{}, err
		}
	}
	return p.machine(in), nil
}

func (p *Provider) create(ctx context.Context, spec provider.Spec, devices map[string]map[string]string) (instance, error) {
	// A pool that names no image has "default" (check.DefaultImage): the
	// provider's image, when it has one.
	alias := spec.Image
	if alias == "" || alias == check.DefaultImage && p.opts.Image != "" {
		alias = p.opts.Image
	}
	if alias == "" {
		return instance{}, errors.New("lxd: the pool names no image and the provider has no default image alias (set lxd.image)")
	}
	if msg := check.LXDImageProblem(alias); msg != "" {
		return instance{}, fmt.Errorf("lxd: pool image: %s", msg)
	}
	if spec.Flavor != "" {
		if msg := check.LXDNameProblem("profile (the pool's flavor)", spec.Flavor); msg != "" {
			return instance{}, fmt.Errorf("lxd: %s", msg)
		}
	}
	profiles := slices.Clone(p.opts.Profiles)
	if spec.Flavor != "" && !slices.Contains(profiles, spec.Flavor) {
		profiles = append(profiles, spec.Flavor)
	}
	if profiles == nil {
		profiles = []string{} // explicit: LXD applies "default" to a missing list
	}
	if p.opts.Network != "" {
		devices["eth0"] = map[string]string{"type": "nic", "name": "eth0", "network": p.opts.Network}
	}
	if p.opts.StoragePool != "" {
		devices["root"] = map[string]string{"type": "disk", "path": "/", "pool": p.opts.StoragePool}
	}
	cfg := map[string]string{
		keyController: p.opts.ControllerID,
		keyPool:       spec.PoolID,
		keyUserData:   userData,
	}
	if cpu := clamp(spec.CPU, p.opts.CPU, p.opts.MaxCPU); cpu > 0 {
		cfg["limits.cpu"] = strconv.Itoa(cpu)
	}
	if mem := clamp(spec.MemoryMB, p.opts.MemoryMB, p.opts.MaxMemoryMB); mem > 0 {
		cfg["limits.memory"] = strconv.Itoa(mem) + "MB"
	}
	post := instancesPost{
		instance: instance{Name: spec.Name, Type: "container", Config: cfg, Devices: devices, Profiles: profiles},
		Source:   instanceSource{Type: "image", Alias: alias},
	}
	if err := p.c.createInstance(ctx, post); err != nil {
		if isNotFound(err) || strings.Contains(err.Error(), "not found") {
			return instance{}, fmt.Errorf("lxd: create %s from image alias %q: %w (import the image, e.g. scripts/lxd-setup image, or fix the pool's image)",
				spec.Name, alias, err)
		}
		return instance{}, fmt.Errorf("lxd: create %s: %w", spec.Name, err)
	}
	p.opts.Logger.Info("lxd: container created", "name", spec.Name, "image", alias, "profiles", profiles)
	return p.c.getInstance(ctx, spec.Name)
}

// boot pushes the bootstrap and the boot settings, then starts the
// container. A container a killed manager's create left LXD still unpacking
// is busy: boot waits for that operation rather than fail the retried Create.
func (p *Provider) boot(ctx context.Context, spec provider.Spec) error {
	for {
		err := p.bootOnce(ctx, spec)
		if err == nil || !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (p *Provider) bootOnce(ctx context.Context, spec provider.Spec) error {
	meta, cb := guestURL(spec.MetadataURL), guestURL(spec.CallbackURL)
	if err := p.c.pushFile(ctx, spec.Name, guestDir, nil, 0o700); err != nil {
		return fmt.Errorf("lxd: push into %s: %w", spec.Name, err)
	}
	if err := p.c.pushFile(ctx, spec.Name, guestBootstrap, []byte(bootstrapScript), 0o700); err != nil {
		return fmt.Errorf("lxd: push into %s: %w", spec.Name, err)
	}
	if err := p.c.pushFile(ctx, spec.Name, guestBootEnv, bootEnv(spec.Name, meta, cb, spec.Token), 0o600); err != nil {
		return fmt.Errorf("lxd: push into %s: %w", spec.Name, err)
	}
	if err := p.c.setState(ctx, spec.Name, "start"); err != nil {
		return fmt.Errorf("lxd: start %s: %w", spec.Name, err)
	}
	p.opts.Logger.Info("lxd: container started", "name", spec.Name)
	return nil
}

// Delete stops and deletes the container if this controller owns it.
func (p *Provider) Delete(ctx context.Context, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	in, err := p.c.getInstance(ctx, name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if in.Config[keyController] != p.opts.ControllerID {
		return nil // not provably ours: left alone
	}
	// A container that is powering itself off (its job done) is busy with
	// that stop: LXD refuses both another stop and the delete until it ends,
	// which takes a second or two.
	for {
		if in.Status != "Stopped" {
			if err := p.c.setState(ctx, name, "stop"); err != nil && !isNotFound(err) {
				p.opts.Logger.Debug("lxd: stop before delete", "name", name, "err", err)
			}
		}
		err = p.c.deleteInstance(ctx, name)
		if err == nil || isNotFound(err) {
			return nil
		}
		if !isBusy(err) {
			return fmt.Errorf("lxd: delete %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lxd: delete %s: %w (last: %v)", name, ctx.Err(), err)
		case <-time.After(300 * time.Millisecond):
		}
		if in, err = p.c.getInstance(ctx, name); isNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// isBusy: the daemon refused because another operation on the instance
// (a stop, a create still unpacking) runs.
func isBusy(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && (strings.Contains(ae.Message, "busy") || strings.Contains(ae.Message, "is running"))
}

// Get returns ErrNotFound for a container that is missing or not ours.
func (p *Provider) Get(ctx context.Context, name string) (provider.Machine, error) {
	if err := validName(name); err != nil {
		return provider.Machine{}, err
	}
	in, err := p.c.getInstance(ctx, name)
	if isNotFound(err) {
		return provider.Machine{}, provider.ErrNotFound
	}
	if err != nil {
		return provider.Machine{}, err
	}
	if in.Config[keyController] != p.opts.ControllerID {
		return provider.Machine{}, provider.ErrNotFound
	}
	return p.machine(in), nil
}

// List returns this controller's containers (in this provider's project).
func (p *Provider) List(ctx context.Context) ([]provider.Machine, error) {
	all, err := p.c.listInstances(ctx)
	if err != nil {
		return nil, err
	}
	var out []provider.Machine
	for _, in := range all {
		if in.Config[keyController] == p.opts.ControllerID {
			out = append(out, p.machine(in))
		}
	}
	return out, nil
}

func (p *Provider) machine(in instance) provider.Machine {
	m := provider.Machine{ProviderID: "lxd-" + in.Name, Name: in.Name, PoolID: in.Config[keyPool]}
	switch in.Status {
	case "Running", "Starting", "Freezing", "Frozen", "Thawed", "Stopping":
		m.Status = provider.StatusRunning
	case "Stopped":
		m.Status = provider.StatusStopped
		if in.Config[keyLastPower] == "" && time.Since(in.CreatedAt) < p.opts.StartGrace {
			m.Status = provider.StatusRunning // created; Create is about to start it
		}
	case "Error":
		m.Status, m.Fault = provider.StatusError, "LXD reports the container in error; see `lxc info --show-log "+in.Name+"`"
	default:
		m.Status = provider.StatusUnknown
	}
	return m
}

// proxyDevices carries each loopback endpoint the container must reach (the
// manager's, Options.Forward) from 127.0.0.1:PORT in the container to the
// same address on the host.
func (p *Provider) proxyDevices(spec provider.Spec) (map[string]map[string]string, error) {
	devs := map[string]map[string]string{}
	eps := slices.Clone(p.opts.Forward)
	for _, raw := range []string{spec.MetadataURL, spec.CallbackURL} {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("lxd: manager URL %q is not an absolute URL", raw)
		}
		if isLoopback(u.Hostname()) {
			port := u.Port()
			if port == "" {
				port = map[string]string{"https": "443"}[u.Scheme]
				port = cmp.Or(port, "80")
			}
			eps = append(eps, net.JoinHostPort("127.0.0.1", port))
		}
	}
	for _, ep := range eps {
		port, err := loopbackPort(ep)
		if err != nil {
			return nil, err
		}
		addr := "tcp:127.0.0.1:" + strconv.Itoa(port)
		devs["paddock-"+strconv.Itoa(port)] = map[string]string{"type": "proxy", "bind": "instance", "listen": addr, "connect": addr}
	}
	return devs, nil
}

// guestURL is raw as the container reaches it: loopback hosts (localhost
// included) become 127.0.0.1, where the proxy device listens.
func guestURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !isLoopback(u.Hostname()) {
		return raw
	}
	if port := u.Port(); port != "" {
		u.Host = "127.0.0.1:" + port
	} else {
		u.Host = "127.0.0.1"
	}
	return u.String()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback() && ip.To4() != nil
}

func loopbackPort(ep string) (int, error) {
	host, port, err := net.SplitHostPort(ep)
	if err != nil {
		return 0, fmt.Errorf("want 127.0.0.1:port: %w", err)
	}
	if !isLoopback(host) {
		return 0, fmt.Errorf("%s is not a loopback address: containers reach only the host's loopback through LXD proxy devices", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		return 0, fmt.Errorf("bad port %q", port)
	}
	return n, nil
}

func clamp(want, def, limit int) int {
	if want <= 0 {
		want = def
	}
	return min(want, limit)
}

// validName: LXD instance names are host names (letters, digits, '-', at
// most 63, not starting with a digit or '-').
func validName(name string) error {
	if name == "" || len(name) > 63 || name[0] == '-' || (name[0] >= '0' && name[0] <= '9') || strings.HasSuffix(name, "-") {
		return fmt.Errorf("lxd: %q is not a valid LXD instance name (letters, digits and '-', at most 63, starting with a letter)", name)
	}
	for _, r := range name {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("lxd: %q is not a valid LXD instance name (letters, digits and '-', at most 63, starting with a letter)", name)
		}
	}
	return nil
}

// Package external is the "external" provider: it drives an executable that
// speaks GARM's provider protocol (interface versions v0.1.0 and v0.1.1), so
// the providers published for GARM (LXD, Incus, OpenStack, Azure, AWS, GCP,
// Kubernetes, …) run Paddock's machines unchanged.
//
// One adapter serves both versions; what differs is the table in
// protocol.go. Every call runs the executable with no arguments and an
// environment built from scratch, bounded by a timeout that kills the
// executable's whole process group.
package external

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
)

// DefaultTimeout bounds one call of the executable. GARM has none, so one
// hung provider call blocks its pool forever.
const DefaultTimeout = 2 * time.Minute

// Options configure the adapter.
type Options struct {
	// Executable is the provider program (absolute path).
	Executable string
	// ConfigFile is passed as GARM_PROVIDER_CONFIG_FILE.
	ConfigFile string
	// InterfaceVersion is v0.1.0, v0.1.1 or "auto" (default): asked of the
	// executable once; v0.1.0 unless it says it speaks v0.1.1.
	InterfaceVersion string
	// ControllerID is passed as GARM_CONTROLLER_ID; providers tag machines with it.
	ControllerID string
	// EnvPrefixes: variables of the manager's environment whose names start
	// with one of these are passed on (credentials for a cloud CLI, say).
	EnvPrefixes []string
	// Timeout bounds each call (default DefaultTimeout).
	Timeout time.Duration
	// StateFile keeps the pools and instances the adapter has seen ("" = memory only).
	StateFile string
	// WorkDir is the executable's working directory ("" = the manager's).
	WorkDir string
	// Environ is the manager's environment (default os.Environ); tests replace it.
	Environ func() []string
	// CACertBundle (PEM) is handed to machines as the BootstrapInstance's
	// ca-cert-bundle: providers install it so machines trust the manager.
	CACertBundle []byte
	// Proxy is handed to machines as proxy_config (providers built on
	// garm-provider-common write it into the machine's environment and
	// package manager).
	Proxy ProxyConfig
	// Logger receives the interface version choice and adoptions (default: discard).
	Logger *slog.Logger
}

// Provider runs the executable for each call.
type Provider struct {
	opts  Options
	state *state

	mu      sync.Mutex
	version string     // V010, V011 or VersionAuto until detected
	probe   sync.Mutex // serialises the auto-detection
}

var _ provider.Provider = (*Provider)(nil)

// New checks the options.
func New(opts Options) (*Provider, error) {
	if opts.InterfaceVersion == "" {
		opts.InterfaceVersion = VersionAuto
	}
	if _, ok := versions[opts.InterfaceVersion]; !ok && opts.InterfaceVersion != VersionAuto {
		return nil, fmt.Errorf("external provider: interface version %q is not supported (want %s or %s)",
			opts.InterfaceVersion, strings.Join(Versions(), ", "), VersionAuto)
	}
	if opts.Executable == "" || opts.ControllerID == "" {
		return nil, errors.New("external provider: executable and controller id are required")
	}
	st, err := os.Stat(opts.Executable)
	if err != nil {
		return nil, fmt.Errorf("external provider: %w", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("external provider: %s is not an executable file", opts.Executable)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := loadState(opts.StateFile)
	if err != nil {
		return nil, err
	}
	return &Provider{opts: opts, state: s, version: opts.InterfaceVersion}, nil
}

// env builds a call's environment from scratch: the protocol's variables,
// the manager's variables matching the configured prefixes, and the proxy
// settings. Nothing else of the manager's environment (its admin token,
// store key, PATH) reaches the executable.
func (p *Provider) env(ver, command, poolID, instanceID string) []string {
	v := versions[ver]
	env := []string{
		"GARM_COMMAND=" + command,
		"GARM_CONTROLLER_ID=" + p.opts.ControllerID,
		"GARM_PROVIDER_CONFIG_FILE=" + p.opts.ConfigFile,
		"GARM_INTERFACE_VERSION=" + ver,
	}
	if v.poolIDFor == nil || v.poolIDFor[command] {
		env = append(env, "GARM_POOL_ID="+poolID)
	}
	if v.extraSpecsEnv {
		extra := p.state.extraSpecs(poolID)
		if len(extra) == 0 {
			extra = json.RawMessage("{}")
		}
		env = append(env, "GARM_POOL_EXTRASPECS="+base64.StdEncoding.EncodeToString(extra))
	}
	if instanceID != "" {
		env = append(env, "GARM_INSTANCE_ID="+instanceID)
	}
	for _, kv := range p.opts.Environ() {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || strings.HasPrefix(name, "GARM_") {
			continue // the protocol's own variables are never overridden from outside
		}
		if passThrough(name, p.opts.EnvPrefixes) {
			env = append(env, kv)
		}
	}
	return env
}

func passThrough(name string, prefixes []string) bool {
	switch strings.ToLower(name) {
	case "http_proxy", "https_proxy", "no_proxy":
		return true
	}
	for _, pre := range prefixes {
		if pre != "" && strings.HasPrefix(name, pre) {
			return true
		}
	}
	return false
}

// Create asks the executable for the machine, unless it already has it.
// A manager that crashed (or timed out) while a create ran retries it; the
// machine may be up and booting by then, and published providers answer a
// second create of the name with a plain failure (garm-provider-lxd: exit 1,
// `This "instances" entry already exists`), not the protocol's exit 31. So a
// name the adapter has asked for before is first looked up, and a duplicate
// answer of either kind adopts the machine instead of failing: a healthy
// machine is never deleted and remade.
func (p *Provider) Create(ctx context.Context, spec provider.Spec) (provider.Machine, error) {
	if spec.Name == "" {
		return provider.Machine{}, errors.New("external provider: machine name is required")
	}
	extra, err := extraSpecs(spec.ExtraSpecs, spec.OSType, spec.MetadataURL, spec.CallbackURL, spec.Token)
	if err != nil {
		return provider.Machine{}, err
	}
	if ref, asked := p.state.instance(spec.Name); asked {
		m, found, err := p.adopt(ctx, spec, "retried create")
		if err != nil || found {
			// Only a create that never returned can still be starting the
			// machine; one that returned handed over what it made.
			if err == nil && ref.ProviderID == "" {
				m, err = p.awaitRunning(ctx, spec, m)
			}
			return m, err
		}
	}
	// Intent first: the pool is listed (and the machine found) even if the
	// manager dies while the executable runs.
	if err := p.state.remember(spec.Name, spec.PoolID, spec.ExtraSpecs); err != nil {
		return provider.Machine{}, fmt.Errorf("external provider: record intent: %w", err)
	}
	in, err := json.Marshal(p.bootstrap(spec, extra))
	if err != nil {
		return provider.Machine{}, err
	}
	out, err := p.call(ctx, CmdCreate, spec.PoolID, "", in)
	if isDuplicate(err) {
		m, found, aerr := p.adopt(ctx, spec, "duplicate answer: "+lastLine(err))
		if aerr != nil {
			return provider.Machine{}, aerr
		}
		if !found {
			return provider.Machine{}, fmt.Errorf("%w; yet %s of pool %s does not list it: %w", err, CmdList, spec.PoolID, provider.ErrNotFound)
		}
		return p.awaitRunning(ctx, spec, m)
	}
	if err != nil {
		return provider.Machine{}, err
	}
	inst, err := decodeOne(CmdCreate, out)
	if err != nil {
		return provider.Machine{}, err
	}
	if inst.Name != spec.Name {
		return provider.Machine{}, fmt.Errorf("provider executable %s: created %q, but %q was asked for", CmdCreate, inst.Name, spec.Name)
	}
	if err := p.state.setProviderID(spec.Name, inst.ProviderID); err != nil {
		return provider.Machine{}, err
	}
	return inst.Machine(spec.PoolID), nil
}

// adopt looks the machine up in its pool's list. The list is what proves the
// machine is ours: providers list only machines tagged with this
// controller's ID and the pool's ID.
func (p *Provider) adopt(ctx context.Context, spec provider.Spec, why string) (provider.Machine, bool, error) {
	insts, err := p.listPool(ctx, spec.PoolID)
	if err != nil {
		return provider.Machine{}, false, err
	}
	for _, inst := range insts {
		if inst.Name != spec.Name {
			continue
		}
		if err := p.state.learn(inst.Name, spec.PoolID, inst.ProviderID); err != nil {
			return provider.Machine{}, false, err
		}
		p.opts.Logger.Info("external provider: adopted existing machine instead of creating it again",
			"instance", spec.Name, "provider_id", inst.ProviderID, "why", why)
		return inst.Machine(spec.PoolID), true, nil
	}
	return provider.Machine{}, false, nil
}

// adoptPoll spaces the listings while an adopted machine comes up.
var adoptPoll = time.Second

// adoptWait bounds that wait: a machine still stopped after it is spent, not
// starting, and is handed over as it is (reconcile retires it). Two minutes
// covers the slowest create seen on real LXD (73 s on 2 loaded cores).
var adoptWait = 2 * time.Minute

// awaitRunning returns an adopted machine once it runs, as the create call
// that made it would have. A manager killed while CreateInstance ran leaves
// the executable going, and garm-provider-lxd lists the container "stopped"
// until that create has started it (a minute on real LXD); handed over
// stopped, the machine would be retired by reconcile and replaced. A machine
// in error is handed over as it is.
func (p *Provider) awaitRunning(ctx context.Context, spec provider.Spec, m provider.Machine) (provider.Machine, error) {
	t := time.NewTicker(adoptPoll)
	defer t.Stop()
	giveUp := time.NewTimer(adoptWait)
	defer giveUp.Stop()
	for m.Status != provider.StatusRunning && m.Status != provider.StatusError {
		select {
		case <-giveUp.C:
			p.opts.Logger.Warn("external provider: adopted machine did not start; handing it over as it is",
				"instance", spec.Name, "status", m.Status, "waited", adoptWait)
			return m, nil
		case <-ctx.Done():
			return provider.Machine{}, fmt.Errorf("external provider: adopted machine %s still %s: %w", spec.Name, m.Status, ctx.Err())
		case <-t.C:
		}
		insts, err := p.listPool(ctx, spec.PoolID)
		if err != nil {
			return provider.Machine{}, err
		}
		found := false
		for _, inst := range insts {
			if inst.Name == spec.Name {
				m, found = inst.Machine(spec.PoolID), true
			}
		}
		if !found {
			return provider.Machine{}, fmt.Errorf("external provider: adopted machine %s no longer listed: %w", spec.Name, provider.ErrNotFound)
		}
	}
	return m, nil
}

// isDuplicate: exit 31, or a plain failure whose message says the name is
// taken (what LXD, Incus and cloud APIs say through providers that do not
// map their duplicate errors to 31).
func isDuplicate(err error) bool {
	var ee *ExecError
	if !errors.As(err, &ee) {
		return false
	}
	if ee.ExitCode == ExitDuplicate {
		return true
	}
	return ee.ExitCode > 0 && strings.Contains(strings.ToLower(ee.Stderr), "already exists")
}

// bootstrap is the CreateInstance input. Paddock hands the machine its runner
// configuration through the metadata endpoint (JIT, single use), so there is
// no registration token, and the tools entry only tells providers which
// OS/architecture the runner is for (GARM's helpers refuse an empty list).
// Its download_url answers 410 with the reason: only GARM's default boot
// template (which Paddock cannot serve) would fetch it.
func (p *Provider) bootstrap(spec provider.Spec, extra json.RawMessage) BootstrapInstance {
	osType := spec.OSType
	if osType == "" {
		osType = "linux"
	}
	labels := spec.Labels
	if labels == nil {
		labels = []string{}
	}
	return BootstrapInstance{
		Name: spec.Name,
		Tools: []RunnerTool{{OS: osType, Architecture: githubArch(spec.Arch),
			DownloadURL: strings.TrimRight(spec.MetadataURL, "/") + "/runner-tools/", Filename: "actions-runner.tar.gz"}},
		CallbackURL: spec.CallbackURL, MetadataURL: spec.MetadataURL, InstanceToken: spec.Token,
		ExtraSpecs: extra, Arch: garmArch(spec.Arch), OSType: osType, Flavor: spec.Flavor, Image: spec.Image,
		Labels: labels, PoolID: spec.PoolID, JITConfigEnabled: true,
		UserDataOptions: UserDataOptions{}, CACertBundle: p.opts.CACertBundle, ProxyConfig: p.opts.Proxy,
	}
}

// instanceID is what the protocol calls a machine: its provider_id once
// create returned one, else its name.
func (p *Provider) instanceID(name string) (string, string) {
	ref, _ := p.state.instance(name)
	if ref.ProviderID != "" {
		return ref.ProviderID, ref.PoolID
	}
	return name, ref.PoolID
}

// Delete removes the machine; not found (exit 30) is success.
func (p *Provider) Delete(ctx context.Context, name string) error {
	id, pool := p.instanceID(name)
	_, err := p.call(ctx, CmdDelete, pool, id, nil)
	if err != nil && exitCode(err) != ExitNotFound {
		return err
	}
	return p.state.forget(name)
}

// Get returns provider.ErrNotFound for exit 30.
func (p *Provider) Get(ctx context.Context, name string) (provider.Machine, error) {
	id, pool := p.instanceID(name)
	out, err := p.call(ctx, CmdGet, pool, id, nil)
	if exitCode(err) == ExitNotFound {
		return provider.Machine{}, provider.ErrNotFound
	}
	if err != nil {
		return provider.Machine{}, err
	}
	inst, err := decodeOne(CmdGet, out)
	if err != nil {
		return provider.Machine{}, err
	}
	if err := p.state.setProviderID(name, inst.ProviderID); err != nil {
		return provider.Machine{}, err
	}
	return inst.Machine(pool), nil
}

// List asks for each pool's machines (the protocol lists per pool) and
// merges them. Any failing pool fails the whole list: reconcile must not
// take a machine it could not see for one that vanished.
func (p *Provider) List(ctx context.Context) ([]provider.Machine, error) {
	var out []provider.Machine
	seen := map[string]bool{}
	for _, pool := range p.state.pools() {
		insts, err := p.listPool(ctx, pool)
		if err != nil {
			return nil, err
		}
		for _, inst := range insts {
			if seen[inst.Name] {
				continue
			}
			seen[inst.Name] = true
			if err := p.state.learn(inst.Name, pool, inst.ProviderID); err != nil {
				return nil, err
			}
			out = append(out, inst.Machine(pool))
		}
	}
	return out, nil
}

func (p *Provider) listPool(ctx context.Context, pool string) ([]ProviderInstance, error) {
	raw, err := p.call(ctx, CmdList, pool, "", nil)
	if err != nil {
		return nil, err
	}
	return decodeList(raw)
}

func decodeOne(command string, out []byte) (ProviderInstance, error) {
	var inst ProviderInstance
	if err := json.Unmarshal(out, &inst); err != nil {
		return inst, fmt.Errorf("provider executable %s: answer is not a ProviderInstance JSON object: %w (stdout: %s)",
			command, err, snippet(out))
	}
	if err := inst.Validate(); err != nil {
		return inst, fmt.Errorf("provider executable %s: %w", command, err)
	}
	return inst, nil
}

func decodeList(out []byte) ([]ProviderInstance, error) {
	var insts []ProviderInstance
	if err := json.Unmarshal(out, &insts); err != nil {
		return nil, fmt.Errorf("provider executable %s: answer is not a JSON array of ProviderInstance: %w (stdout: %s)",
			CmdList, err, snippet(out))
	}
	for _, inst := range insts {
		if err := inst.Validate(); err != nil {
			return nil, fmt.Errorf("provider executable %s: %w", CmdList, err)
		}
	}
	return insts, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(empty)"
	}
	return fmt.Sprintf("%q", s)
}

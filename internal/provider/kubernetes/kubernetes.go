// Package kubernetes runs each machine on a Kubernetes cluster, either as a
// Pod (a container that runs the bootstrap) or as a KubeVirt
// VirtualMachineInstance (one VM per runner, booted by cloud-init).
//
// Every object carries the controller, pool and instance as labels (for list
// selectors) and as annotations (exact values). The only secret a machine
// gets is its single-use instance token, in a per-instance Secret owned by
// the Pod or VMI; the runner's forge credential is fetched once from the
// metadata endpoint and never stored in the cluster.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/paddock-ci/paddock/internal/provider"
)

// Modes: what one machine is.
const (
	ModePod      = "pod"
	ModeKubeVirt = "kubevirt"
)

// Boot styles for pod mode.
const (
	// BootPaddock runs Command (default `paddock machine-boot`): for images
	// that ship the paddock binary.
	BootPaddock = "paddock"
	// BootInstallScript fetches the GARM-style install script with curl and
	// runs it: for stock runner images with bash and curl.
	BootInstallScript = "install-script"
)

// Flavor is a named machine size a pool may ask for.
type Flavor struct {
	CPU, MemoryMB, DiskGB int
}

// Options configure a Provider. Core is required; Dynamic only in kubevirt mode.
type Options struct {
	ControllerID string
	Namespace    string
	Mode         string // ModePod (default) or ModeKubeVirt
	// Image is used when a pool names none (or "default"). In kubevirt mode,
	// "pvc:NAME" boots from a copy-on-write overlay of the PVC NAME (for
	// instance one imported by a CDI DataVolume); anything else is a
	// containerDisk image.
	Image            string
	RuntimeClass     string // pod mode: gVisor, Kata, …
	ImagePullSecrets []string
	NodeSelector     map[string]string
	Tolerations      []corev1.Toleration
	Boot             string   // pod mode: BootPaddock (default) or BootInstallScript
	Command          []string // pod mode with BootPaddock; default [paddock machine-boot]
	RunAsUser        int64    // pod mode; default 1001 (the actions runner images' user)
	// Default size of a machine; a pool's flavor and a job's size label
	// override it, in that order.
	CPU, MemoryMB, DiskGB int
	Flavors               map[string]Flavor

	Core    corev1client.CoreV1Interface
	Dynamic dynamic.Interface
}

// Defaults for options left zero.
const (
	DefaultCPU       = 1
	DefaultMemoryMB  = 2048
	DefaultRunAsUser = 1001
	DefaultVMScratch = 10 // GB; a VM's scratch disk needs a size
	workspaceDir     = "/workspace"
	maxFaultLength   = 1000
	tokenKey         = "token"
	userDataKey      = "userdata"
	containerName    = "runner"
	workspaceVolume  = "workspace"
)

// Provider implements provider.Provider on a Kubernetes cluster.
type Provider struct {
	opts Options
}

var _ provider.Provider = (*Provider)(nil)

// New checks opts and fills defaults.
func New(opts Options) (*Provider, error) {
	if opts.ControllerID == "" {
		return nil, errors.New("kubernetes provider: controller ID is required")
	}
	if opts.Namespace == "" {
		return nil, errors.New("kubernetes provider: namespace is required")
	}
	if opts.Core == nil {
		return nil, errors.New("kubernetes provider: a core/v1 client is required")
	}
	switch opts.Mode {
	case "", ModePod:
		opts.Mode = ModePod
	case ModeKubeVirt:
		if opts.Dynamic == nil {
			return nil, errors.New("kubernetes provider: kubevirt mode needs a dynamic client")
		}
	default:
		return nil, fmt.Errorf("kubernetes provider: unknown mode %q (want %s or %s)", opts.Mode, ModePod, ModeKubeVirt)
	}
	switch opts.Boot {
	case "", BootPaddock:
		opts.Boot = BootPaddock
	case BootInstallScript:
	default:
		return nil, fmt.Errorf("kubernetes provider: unknown boot %q (want %s or %s)", opts.Boot, BootPaddock, BootInstallScript)
	}
	if len(opts.Command) == 0 {
		opts.Command = []string{"paddock", "machine-boot"}
	}
	if opts.RunAsUser == 0 {
		opts.RunAsUser = DefaultRunAsUser
	}
	if opts.RunAsUser < 0 {
		return nil, fmt.Errorf("kubernetes provider: run_as_user %d must be a positive (non-root) user ID", opts.RunAsUser)
	}
	if opts.CPU == 0 {
		opts.CPU = DefaultCPU
	}
	if opts.MemoryMB == 0 {
		opts.MemoryMB = DefaultMemoryMB
	}
	return &Provider{opts: opts}, nil
}

// size is the resolved machine size of one spec.
type size struct{ CPU, MemoryMB, DiskGB int }

// size resolves defaults ← flavor ← the spec's own (size-label) values.
func (p *Provider) size(spec provider.Spec) (size, error) {
	s := size{p.opts.CPU, p.opts.MemoryMB, p.opts.DiskGB}
	if spec.Flavor != "" {
		f, ok := p.opts.Flavors[spec.Flavor]
		if !ok {
			names := make([]string, 0, len(p.opts.Flavors))
			for n := range p.opts.Flavors {
				names = append(names, n)
			}
			slices.Sort(names)
			return s, fmt.Errorf("unknown flavor %q (this provider has: %s)", spec.Flavor, strings.Join(names, ", "))
		}
		s = overlay(s, size(f))
	}
	return overlay(s, size{spec.CPU, spec.MemoryMB, spec.DiskGB}), nil
}

func overlay(base, over size) size {
	if over.CPU > 0 {
		base.CPU = over.CPU
	}
	if over.MemoryMB > 0 {
		base.MemoryMB = over.MemoryMB
	}
	if over.DiskGB > 0 {
		base.DiskGB = over.DiskGB
	}
	return base
}

// image picks the machine image: the pool's, else the provider's.
func (p *Provider) image(spec provider.Spec) (string, error) {
	if spec.Image != "" && spec.Image != "default" {
		return spec.Image, nil
	}
	if p.opts.Image == "" {
		return "", errors.New("the pool names no image and the kubernetes provider has no default image")
	}
	return p.opts.Image, nil
}

func checkSpec(spec provider.Spec) error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"name", spec.Name}, {"token", spec.Token}, {"metadata URL", spec.MetadataURL}, {"callback URL", spec.CallbackURL},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("kubernetes provider: spec lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

// Create makes the Pod or VMI named after spec.Name, or returns the one that exists.
func (p *Provider) Create(ctx context.Context, spec provider.Spec) (provider.Machine, error) {
	if err := checkSpec(spec); err != nil {
		return provider.Machine{}, err
	}
	if p.opts.Mode == ModeKubeVirt {
		return p.createVMI(ctx, spec)
	}
	return p.createPod(ctx, spec)
}

// Delete removes the machine and its Secret; a missing machine is not an error.
func (p *Provider) Delete(ctx context.Context, name string) error {
	if p.opts.Mode == ModeKubeVirt {
		return p.deleteVMI(ctx, name)
	}
	return p.deletePod(ctx, name)
}

// Get returns provider.ErrNotFound for a machine this controller does not have.
func (p *Provider) Get(ctx context.Context, name string) (provider.Machine, error) {
	if p.opts.Mode == ModeKubeVirt {
		return p.getVMI(ctx, name)
	}
	return p.getPod(ctx, name)
}

// List returns this controller's machines in the namespace.
func (p *Provider) List(ctx context.Context) ([]provider.Machine, error) {
	if p.opts.Mode == ModeKubeVirt {
		return p.listVMIs(ctx)
	}
	return p.listPods(ctx)
}

func truncate(s string) string {
	if len(s) <= maxFaultLength {
		return s
	}
	return s[:maxFaultLength] + "…"
}

// Package qemu is the "qemu" provider: one QEMU virtual machine per instance,
// booted from Paddock's fast image (kernel + initramfs, see package image)
// and powered off when its one job is done.
//
// Each VM is a daemonized QEMU process in its own session, tracked by a
// pidfile and a QMP socket in the instance's directory under the state dir,
// so a restarted manager finds, lists and kills its VMs (and only its VMs:
// every directory records the controller id). The network is QEMU's
// user-mode NAT with restrict=on: the guest reaches only the host endpoints
// forwarded to it (Paddock's metadata/callback endpoint and Options.Forward)
// at GuestHostAddr, and no host port listens for the guest.
package qemu

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/paddock-ci/paddock/internal/image"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/localmachine"
)

// Options configure the provider.
type Options struct {
	// StateDir holds one directory per instance (state file, pidfile, QMP
	// socket, console log).
	StateDir     string
	ControllerID string
	// ImageDir is where `paddock image build` put the fast image.
	ImageDir string
	// Binary is the QEMU system emulator for x64 guests; default
	// qemu-system-x86_64. BinaryArm64 is the one for arm64 guests (pools
	// with arch: arm64); default qemu-system-aarch64.
	Binary, BinaryArm64 string
	// QemuImg makes cloud images' overlays; default qemu-img.
	QemuImg string
	// FirmwareArm64 is the UEFI firmware code arm64 cloud images boot
	// through, FirmwareVarsArm64 the variable store template each VM gets a
	// copy of; defaults: Debian's qemu-efi-aarch64 (DefaultFirmwareArm64,
	// DefaultFirmwareVarsArm64). A path set here must exist when New runs;
	// the defaults are checked only when an arm64 cloud image boots, so
	// hosts without arm64 cloud pools need not install the package.
	FirmwareArm64, FirmwareVarsArm64 string
	// Workspace is where a cloud image's guest keeps the workspace:
	// WorkspaceScratch (the default: encrypted scratch disk) or
	// WorkspaceTmpfs (RAM only). The fast image follows ScratchGB.
	Workspace string
	// Accel is auto (probe KVM by booting, fall back to TCG), kvm or tcg.
	Accel string
	// CPU and MemoryMB apply when the pool's flavor or size label gives none;
	// MaxCPU and MaxMemoryMB cap what a size label may ask for on this host.
	CPU, MemoryMB       int
	MaxCPU, MaxMemoryMB int
	// ScratchGB, if positive, gives each VM a scratch disk of that size (or
	// of the pool's disk size) that the guest encrypts with a key it makes
	// and keeps only in RAM, and uses as the workspace. 0 keeps the
	// workspace in RAM. The disk file is sparse and deleted with the VM.
	ScratchGB int
	// RelayCommand is run by QEMU for each guest connection to a forwarded
	// endpoint, with host:port appended; it must copy between stdin/stdout
	// and that endpoint (`paddock qemu-relay`).
	RelayCommand []string
	// Forward lists extra host endpoints (host:port) guests may reach at
	// GuestHostAddr on the same port, e.g. a forge simulator in tests.
	Forward []string
	// Start is how fast-image VMs start: StartBoot (default, cold boot) or
	// StartSnapshot (restore from a template; x64 guests without a scratch
	// disk, anything else cold-boots).
	Start  string
	Logger *slog.Logger
}

// Provider runs one QEMU VM per instance.
type Provider struct {
	localmachine.Machines[record] // Get and List
	opts                          Options
	reg                           *localmachine.Registry
	fwd                           map[int]string
	names                         nameLocks // serializes Create/Delete per name
	accel                         accelProbe
	// afterStart, set by tests, runs once QEMU has started; an error ends
	// Create there, as a manager killed at that point would.
	afterStart func(pid int) error

	bootMu   sync.Mutex
	boots    []Boot
	restores map[string][2]time.Time // restored VMs: QEMU started, identity taken

	snap snapshots
}

// New checks the options and creates the state directory.
func New(opts Options) (*Provider, error) {
	if opts.StateDir == "" || opts.ControllerID == "" || opts.ImageDir == "" || len(opts.RelayCommand) == 0 {
		return nil, errors.New("qemu provider: state dir, controller id, image dir and relay command are required")
	}
	if opts.Binary == "" {
		opts.Binary = "qemu-system-x86_64"
	}
	opts.BinaryArm64 = cmp.Or(opts.BinaryArm64, "qemu-system-aarch64")
	opts.QemuImg = cmp.Or(opts.QemuImg, "qemu-img")
	if opts.FirmwareArm64 != "" || opts.FirmwareVarsArm64 != "" {
		opts.FirmwareArm64 = cmp.Or(opts.FirmwareArm64, DefaultFirmwareArm64)
		opts.FirmwareVarsArm64 = cmp.Or(opts.FirmwareVarsArm64, DefaultFirmwareVarsArm64)
		if err := checkFirmware(opts.FirmwareArm64, opts.FirmwareVarsArm64); err != nil {
			return nil, err
		}
	}
	opts.FirmwareArm64 = cmp.Or(opts.FirmwareArm64, DefaultFirmwareArm64)
	opts.FirmwareVarsArm64 = cmp.Or(opts.FirmwareVarsArm64, DefaultFirmwareVarsArm64)
	switch opts.Workspace {
	case "":
		opts.Workspace = WorkspaceScratch
	case WorkspaceScratch, WorkspaceTmpfs:
	default:
		return nil, fmt.Errorf("qemu provider: workspace %q: want %s or %s", opts.Workspace, WorkspaceScratch, WorkspaceTmpfs)
	}
	switch opts.Start {
	case "":
		opts.Start = StartBoot
	case StartBoot, StartSnapshot:
	default:
		return nil, fmt.Errorf("qemu provider: start %q: want %s or %s", opts.Start, StartBoot, StartSnapshot)
	}
	switch opts.Accel {
	case "":
		opts.Accel = "auto"
	case "auto", "kvm", "tcg":
	default:
		return nil, fmt.Errorf("qemu provider: accel %q: want auto, kvm or tcg", opts.Accel)
	}
	opts.CPU = max(opts.CPU, 1)
	if opts.MemoryMB <= 0 {
		opts.MemoryMB = 512
	}
	if opts.MaxCPU <= 0 {
		opts.MaxCPU = 4
	}
	if opts.MaxMemoryMB <= 0 {
		opts.MaxMemoryMB = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	fwd, err := forwards(opts.Forward)
	if err != nil {
		return nil, fmt.Errorf("qemu provider: %w", err)
	}
	if _, err := exec.LookPath(opts.Binary); err != nil {
		return nil, fmt.Errorf("qemu provider: %w (install Debian's qemu-system-x86 package)", err)
	}
	reg, err := localmachine.Open(opts.StateDir, opts.ControllerID)
	if err != nil {
		return nil, fmt.Errorf("qemu provider: %w", err)
	}
	cleanTemplateBuilds(opts.StateDir)
	p := &Provider{opts: opts, reg: reg, fwd: fwd}
	p.Machines = localmachine.Machines[record]{Reg: reg, Machine: p.machine}
	return p, nil
}

// record is what an instance's directory remembers about it. It is written
// before QEMU starts, so a manager that dies mid-Create still finds (and
// can delete) the VM.
type record struct {
	localmachine.Header
	Accel      string `json:"accel"`
	Arch       string `json:"arch,omitempty"` // guest architecture ("" = amd64)
	CPU        int    `json:"cpu"`
	MemoryMB   int    `json:"memory_mb"`
	ScratchGB  int    `json:"scratch_gb,omitempty"`
	CloudImage string `json:"cloud_image,omitempty"`
}

func (p *Provider) dir(name string) string { return p.reg.Dir(name) }

// Create boots the VM unless one with that name already exists.
func (p *Provider) Create(ctx context.Context, spec provider.Spec) (provider.Machine, error) {
	if err := localmachine.ValidName(spec.Name); err != nil {
		return provider.Machine{}, err
	}
	base, err := cloudBase(spec.Image)
	if err != nil {
		return provider.Machine{}, err
	}
	arch, err := guestArch(spec.Arch)
	if err != nil {
		return provider.Machine{}, err
	}
	uefi := arch == "arm64" && base != ""
	if uefi {
		if err := checkFirmware(p.opts.FirmwareArm64, p.opts.FirmwareVarsArm64); err != nil {
			return provider.Machine{}, err
		}
	}
	binary, err := p.binary(arch)
	if err != nil {
		return provider.Machine{}, err
	}
	img, imgErr := image.Current(p.opts.ImageDir, arch)
	if imgErr != nil && base == "" {
		return provider.Machine{}, imgErr
	}
	meta, err := GuestURL(spec.MetadataURL)
	if err != nil {
		return provider.Machine{}, fmt.Errorf("metadata URL: %w", err)
	}
	cb, err := GuestURL(spec.CallbackURL)
	if err != nil {
		return provider.Machine{}, fmt.Errorf("callback URL: %w", err)
	}
	fwd := map[int]string{}
	for k, v := range p.fwd {
		fwd[k] = v
	}
	for _, u := range []string{spec.MetadataURL, spec.CallbackURL} {
		ep, _ := hostEndpoint(u)
		more, err := forwards([]string{ep})
		if err != nil {
			return provider.Machine{}, err
		}
		for port, ep := range more {
			if prev, ok := fwd[port]; ok && prev != ep {
				return provider.Machine{}, fmt.Errorf("manager endpoint %s and forward %s share port %d", ep, prev, port)
			}
			fwd[port] = ep
		}
	}
	accel := p.opts.Accel
	if !nativeArch(arch) {
		// KVM runs only guests of the host's own architecture.
		if accel == "kvm" {
			return provider.Machine{}, fmt.Errorf("qemu provider: accel kvm cannot run %s guests on this %s host; set accel: auto or tcg", arch, runtime.GOARCH)
		}
		accel = "tcg"
	} else if imgErr == nil {
		accel = p.accel.get(ctx, p.opts, img)
	} else if accel == "auto" {
		// A cloud image needs no fast image, but "auto" probes KVM by booting it.
		accel = "tcg"
		p.opts.Logger.Warn("qemu: no fast image to probe KVM with; using TCG (set accel: kvm to use KVM)", "reason", imgErr)
	}

	defer p.names.lock(spec.Name)()
	if rec, err := p.Read(spec.Name); err == nil {
		return p.machine(rec), nil
	}
	dir := p.dir(spec.Name)
	if !p.reg.Recorded(spec.Name) {
		// Left by a Create cut short before its record: no QEMU runs there.
		if err := p.reg.Remove(spec.Name, nil); err != nil {
			return provider.Machine{}, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return provider.Machine{}, err
	}
	rec := record{Header: p.reg.NewHeader(spec), Accel: accel, Arch: arch,
		CPU: clamp(spec.CPU, p.opts.CPU, p.opts.MaxCPU), MemoryMB: clamp(spec.MemoryMB, p.opts.MemoryMB, p.opts.MaxMemoryMB)}
	if base != "" {
		rec.CloudImage, rec.ScratchGB = base, p.cloudScratchGB(spec.DiskGB)
	} else if p.opts.ScratchGB > 0 {
		rec.ScratchGB = cmp.Or(spec.DiskGB, p.opts.ScratchGB)
	}
	if err := p.reg.Write(spec.Name, rec); err != nil {
		os.RemoveAll(dir)
		return provider.Machine{}, err
	}
	vm := vmConfig{name: spec.Name, dir: dir, accel: accel, arch: arch, kernel: img.Kernel, initrd: img.Initrd,
		cpus: rec.CPU, memoryMB: rec.MemoryMB, relay: p.opts.RelayCommand, fwd: fwd, scratch: rec.ScratchGB > 0, cloud: base != "",
		firmware: p.opts.FirmwareArm64}
	if p.opts.Start == StartSnapshot {
		if p.startRestored(ctx, binary, vm, img, meta, cb, spec.Token) {
			return p.machine(rec), nil
		}
	}
	// The boot settings with the token go to the fast image's fw_cfg file or
	// the cloud image's seed. QEMU reads both while starting up, before
	// -daemonize lets the parent exit; after that the token lives only in
	// the VM's memory (and the seed's still-open file descriptor).
	secret := filepath.Join(dir, "boot.cfg")
	if base != "" {
		secret = filepath.Join(dir, seedFile)
	}
	defer os.Remove(secret)
	if base != "" {
		err = p.prepareCloud(ctx, dir, base, spec.Name, meta, cb, spec.Token)
		if err == nil && uefi {
			err = copyVars(p.opts.FirmwareVarsArm64, filepath.Join(dir, efiVarsFile))
		}
	} else {
		err = os.WriteFile(secret, fastBootCfg(spec.Name, meta, cb, spec.Token), 0o600)
	}
	if err != nil {
		os.RemoveAll(dir)
		return provider.Machine{}, err
	}
	if rec.ScratchGB > 0 {
		// Sparse: only what the guest writes (ciphertext) takes host disk space.
		if err := os.WriteFile(filepath.Join(dir, "scratch.img"), nil, 0o600); err != nil {
			os.RemoveAll(dir)
			return provider.Machine{}, err
		}
		if err := os.Truncate(filepath.Join(dir, "scratch.img"), int64(rec.ScratchGB)<<30); err != nil {
			os.RemoveAll(dir)
			return provider.Machine{}, err
		}
	}
	if err := p.start(ctx, binary, dir, vmArgs(vm), nil); err != nil {
		_ = stop(context.WithoutCancel(ctx), dir)
		_ = p.reg.Remove(spec.Name, func(moved string) error { return killMoved(moved, dir) })
		return provider.Machine{}, fmt.Errorf("start VM %s: %w", spec.Name, err)
	}
	if p.afterStart != nil {
		if err := p.afterStart(vmPID(dir)); err != nil {
			return provider.Machine{}, err
		}
	}
	p.opts.Logger.Info("qemu: VM started", "name", spec.Name, "accel", accel, "cpu", rec.CPU, "memory_mb", rec.MemoryMB)
	return p.machine(rec), nil
}

// start runs QEMU with -daemonize: the command returns once the VM is set up
// and QEMU has detached into its own session. A non-nil incoming becomes
// QEMU's fd 3 (a restore's migration stream).
func (p *Provider) start(ctx context.Context, binary, dir string, args []string, incoming *os.File) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // the manager's secrets stay out of QEMU and the relays
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if incoming != nil {
		cmd.ExtraFiles = []*os.File{incoming}
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	if vmPID(dir) == 0 {
		return fmt.Errorf("qemu exited right after starting: %s", bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// binary is the QEMU system emulator for guests of arch.
func (p *Provider) binary(arch string) (string, error) {
	if arch != "arm64" {
		return p.opts.Binary, nil
	}
	if _, err := exec.LookPath(p.opts.BinaryArm64); err != nil {
		return "", fmt.Errorf("qemu provider: arm64 guests need %s: %w (install Debian's qemu-system-arm package)", p.opts.BinaryArm64, err)
	}
	return p.opts.BinaryArm64, nil
}

// fastBootCfg is the fast image's fw_cfg boot file, read by its init.
func fastBootCfg(name, meta, cb, token string) []byte {
	return fmt.Appendf(nil, "PADDOCK_INSTANCE_NAME=%s\nPADDOCK_METADATA_URL=%s\nPADDOCK_CALLBACK_URL=%s\nPADDOCK_INSTANCE_TOKEN=%s\n",
		name, meta, cb, token)
}

func clamp(want, def, limit int) int {
	if want <= 0 {
		want = def
	}
	return min(want, limit)
}

// Delete stops the VM and removes its directory (console log, sockets).
func (p *Provider) Delete(ctx context.Context, name string) error {
	if err := localmachine.ValidName(name); err != nil {
		return err
	}
	defer p.names.lock(name)()
	rec, err := p.Read(name)
	if errors.Is(err, provider.ErrNotFound) {
		// A directory without any record was left by a Create cut short
		// before its record, i.e. before QEMU started: it goes. One holding
		// another controller's record stays.
		if !p.reg.Recorded(name) {
			return p.reg.Remove(name, nil)
		}
		return nil
	}
	dir := p.dir(name)
	if err := stop(ctx, dir); err != nil {
		return fmt.Errorf("stop VM %s: %w", name, err)
	}
	p.recordBoot(dir, rec)
	p.noteFirmwareFault(dir, rec)
	return p.reg.Remove(name, func(moved string) error { return killMoved(moved, dir) })
}

func (p *Provider) machine(rec record) provider.Machine {
	m := provider.Machine{ProviderID: "qemu-" + rec.Name, Name: rec.Name, PoolID: rec.PoolID, Status: provider.StatusRunning}
	dir := p.dir(rec.Name)
	if vmPID(dir) == 0 {
		if _, err := os.Stat(filepath.Join(dir, "qemu.pid")); os.IsNotExist(err) && time.Since(rec.CreatedAt) < startGrace {
			return m // Create is still starting QEMU
		}
		// The guest powered off after its job (or never started): the VM is spent.
		m.Status = provider.StatusStopped
	}
	return m
}

// startGrace bounds how long an instance without a QEMU process counts as
// still starting rather than stopped.
const startGrace = 45 * time.Second

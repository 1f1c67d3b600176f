package demo

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/image"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
)

// runnerCommand is what the simulated runner package's run.sh execs on a
// process or external machine: the paddock binary. microVMs run the
// package's own program instead (see guestPrograms).
func runnerCommand(o Options) []string {
	if o.Provider == "lxd" {
		return []string{lxdPaddock, "agent"}
	}
	return []string{cmp.Or(o.External.MachinePaddock, o.Self), "agent"}
}

// checkArch normalises --arch: x64 (also written amd64) or arm64, the
// latter only for the qemu provider, which plays GitHub only: a Gitea or
// Forgejo runner dials the forge address the manager registered it with,
// the simulator's loopback address, which a VM cannot reach.
func checkArch(o *Options) error {
	if o.Provider == "qemu" && o.Forge != forgesim.FlavorGitHub {
		return fmt.Errorf("--provider qemu runs with --forge github only: a %s runner dials the forge at the address the manager knows (loopback here), which a VM cannot reach", o.Forge)
	}
	switch o.Arch {
	case "", "x64", "amd64":
		o.Arch = "x64"
	case "arm64":
		if o.Provider != "qemu" {
			return fmt.Errorf("--arch arm64 needs --provider qemu (the %s provider runs machines of this host's architecture)", o.Provider)
		}
	default:
		return fmt.Errorf("--arch %q: want x64 or arm64", o.Arch)
	}
	return nil
}

// imageArch is the fast image's name for the demo's architecture.
func imageArch(o Options) string {
	if o.Arch == "arm64" {
		return "arm64"
	}
	return "amd64"
}

// guestPrograms finds the static programs a microVM needs beside the
// paddock binary: paddock-guest-ARCH for the image and
// paddock-simrunner-ARCH, which the simulator's runner package carries
// into the VM as a real runner package carries its runner.
func guestPrograms(o *Options) error {
	a := imageArch(*o)
	guest, err := image.FindGuest(image.DefaultGuest(o.Self, a), a)
	if err != nil {
		return err
	}
	runner := image.Beside(o.Self, "paddock-simrunner", a)
	if _, err := os.Stat(runner); err != nil {
		return fmt.Errorf("no %s simulated runner at %s: build it in Paddock's source tree with "+
			"`CGO_ENABLED=0 GOARCH=%s go build -trimpath -ldflags \"-s -w\" -o %s ./cmd/paddock-simrunner`", a, runner, a, runner)
	}
	o.guest, o.runnerBinaries = guest, map[string]string{o.Arch: runner}
	return nil
}

// prepareQEMU builds (or reuses) the fast image and tells the simulator the
// address at which VMs reach it (see qemu.GuestHostAddr).
func prepareQEMU(ctx context.Context, o *Options, sim *forgesim.Sim) error {
	if o.ImageDir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("--image-dir: %w", err)
		}
		o.ImageDir = filepath.Join(cache, "paddock", "images", "fast")
	}
	fmt.Fprintf(o.Out, "building the %s fast VM image in %s (cached after the first run)\n", imageArch(*o), o.ImageDir)
	var runners []string
	if !o.DownloadRunner && o.Forge == forgesim.FlavorGitHub {
		// Baked in as a production image would have it: VMs whose forge
		// publishes this package's sha256 skip the download.
		name, b, ok := sim.RunnerPackage(o.Arch)
		if !ok {
			return fmt.Errorf("the simulator has no %s runner package", o.Arch)
		}
		f := filepath.Join(o.dir, name)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			return err
		}
		runners = append(runners, f)
		fmt.Fprintf(o.Out, "  baking the runner package %s into the image (--download-runner: every VM downloads it)\n", name)
	}
	if _, err := image.Build(ctx, image.Options{Dir: o.ImageDir, Guest: o.guest, Arch: imageArch(*o), RunnerPackages: runners,
		Logf: func(f string, a ...any) { fmt.Fprintf(o.Out, "  "+f+"\n", a...) }}); err != nil {
		return err
	}
	u, err := qemu.GuestURL(sim.URL())
	if err != nil {
		return err
	}
	sim.SetMachineURL(u)
	o.simHost = strings.TrimSuffix(strings.TrimPrefix(sim.URL(), "http://"), "/")
	return nil
}

// qemuBlock configures the qemu provider: the simulator's port is forwarded
// into the VMs, size labels are capped to what this host can carry.
func qemuBlock(o Options, dir string) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return fmt.Sprintf("    type: qemu\n    qemu: {image_dir: %s, accel: %s, start: %s, max_cpu: 2, max_memory_mb: 1024, forward: [%s]}",
		q(o.ImageDir), cmp.Or(os.Getenv("PADDOCK_DEMO_ACCEL"), "auto"), q(cmp.Or(o.QEMUStart, qemu.StartBoot)), q(o.simHost))
}

// applyArch makes the demo's pools and jobs arm64 ones for --arch arm64:
// the pools' x64 label becomes arm64, and so does the jobs'.
func applyArch(o Options, cfg *config.Config) {
	if o.Arch != "arm64" {
		return
	}
	for i := range cfg.Pools {
		cfg.Pools[i].Arch = "arm64"
		cfg.Pools[i].Labels = archLabels(cfg.Pools[i].Labels)
	}
}

func archMix(o Options, mix [][]string) [][]string {
	if o.Arch != "arm64" {
		return mix
	}
	out := make([][]string, len(mix))
	for i, labels := range mix {
		out[i] = archLabels(labels)
	}
	return out
}

func archLabels(labels []string) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		switch l {
		case "x64":
			l = "arm64"
		case "X64":
			l = "ARM64"
		}
		out[i] = l
	}
	return out
}

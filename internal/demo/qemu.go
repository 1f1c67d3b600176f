package demo

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/image"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
)

// guestPaddock is where the fast image holds the paddock binary.
const guestPaddock = "/bin/paddock"

// runnerCommand is what the simulated runner package's run.sh execs: the
// paddock binary as the machine sees it.
func runnerCommand(o Options) []string {
	if o.Provider == "qemu" {
		return []string{guestPaddock, "agent"}
	}
	if o.Provider == "lxd" {
		return []string{lxdPaddock, "agent"}
	}
	return []string{cmp.Or(o.External.MachinePaddock, o.Self), "agent"}
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
	fmt.Fprintf(o.Out, "building the fast VM image in %s (cached after the first run)\n", o.ImageDir)
	if _, err := image.Build(ctx, image.Options{Dir: o.ImageDir, Paddock: o.Self,
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
	return fmt.Sprintf("    type: qemu\n    qemu: {image_dir: %s, accel: %s, max_cpu: 2, max_memory_mb: 1024, forward: [%s]}",
		q(o.ImageDir), cmp.Or(os.Getenv("PADDOCK_DEMO_ACCEL"), "auto"), q(o.simHost))
}

// printVMTimes reports the medians the qemu provider is judged by: how long
// a bare VM takes from kernel start to init, and how long a job waits from
// being queued until a runner in a fresh VM picks it up.
func printVMTimes(out io.Writer, a *app.App, sim *forgesim.Sim) {
	var boots []time.Duration
	for _, p := range a.Providers {
		if qp, ok := p.(*qemu.Provider); ok {
			boots = append(boots, qp.BootTimes()...)
		}
	}
	var waits []time.Duration
	for _, j := range sim.Jobs() {
		if !j.StartedAt.IsZero() {
			waits = append(waits, j.StartedAt.Sub(j.CreatedAt))
		}
	}
	if len(boots) == 0 || len(waits) == 0 {
		fmt.Fprintln(out, "VM timings: no complete VM boot recorded")
		return
	}
	bm, wm := median(boots), median(waits)
	fmt.Fprintf(out, "VM boot (kernel start → init), median of %d VMs: %s\n", len(boots), bm.Round(10*time.Millisecond))
	fmt.Fprintf(out, "job queued → runner online in a fresh VM, median of %d jobs: %s (%.1f× the bare boot)\n",
		len(waits), wm.Round(10*time.Millisecond), float64(wm)/float64(bm))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

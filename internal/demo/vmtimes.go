package demo

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
)

// coldStart is one job that a VM booted for it served, split into phases.
// The guest stamps its uptime at each phase (see paddock-guest); the host
// knows when the job was queued, when QEMU was launched and when the runner
// took the job, which places the guest's clock on the host's.
type coldStart struct {
	total    time.Duration // job queued → runner online (took the job)
	dispatch time.Duration // job queued → QEMU launched
	vmStart  time.Duration // QEMU launched → kernel start (QEMU, firmware, kernel load)
	kernel   time.Duration // kernel start → init
	modules  time.Duration // init → modules loaded (mounts, busybox links, kernel modules)
	network  time.Duration // modules loaded → network up
	agent    time.Duration // network up → paddock-guest running
	config   time.Duration // paddock-guest running → runner config received
	runner   time.Duration // config → runner found in the image or downloaded, checked and unpacked; started
	connect  time.Duration // runner started → runner online
}

// bare is the bare VM boot: QEMU launched → init running.
func (c coldStart) bare() time.Duration { return c.vmStart + c.kernel }

func coldStarts(boots []qemu.Boot, jobs []forgesim.Job) (cold []coldStart, warm int) {
	byName := map[string]qemu.Boot{}
	for _, b := range boots {
		byName[b.Name] = b
	}
	for _, j := range jobs {
		b, ok := byName[j.RunnerName]
		if j.StartedAt.IsZero() || !ok {
			continue
		}
		if b.Restored() {
			continue // restoreStarts has these
		}
		if b.Launched.Before(j.CreatedAt) {
			warm++ // a VM booted before the job was queued (min_idle): not a cold start
			continue
		}
		s := b.Stamps
		online, ok := s["online"]
		if !ok || s["modules"] == 0 || s["net"] == 0 || s["agent"] == 0 || s["config"] == 0 || s["runner"] == 0 {
			continue
		}
		c := coldStart{total: j.StartedAt.Sub(j.CreatedAt), dispatch: b.Launched.Sub(j.CreatedAt),
			kernel: b.Init, modules: s["modules"] - b.Init, network: s["net"] - s["modules"], agent: s["agent"] - s["net"], config: s["config"] - s["agent"],
			runner: s["runner"] - s["config"], connect: online - s["runner"]}
		c.vmStart = j.StartedAt.Sub(b.Launched) - online
		cold = append(cold, c)
	}
	return cold, warm
}

// printVMTimes reports what the qemu provider is judged by: job queued →
// runner online in a VM booted for the job, phase by phase, beside a bare
// VM boot (QEMU launched → init) of the same VMs in the same run.
func printVMTimes(out io.Writer, a *app.App, sim *forgesim.Sim) {
	var boots []qemu.Boot
	for _, p := range a.Providers {
		if qp, ok := p.(*qemu.Provider); ok {
			boots = append(boots, qp.Boots()...)
		}
	}
	tools := map[string]int{}
	for _, b := range boots {
		if b.Tools != "" {
			tools[b.Tools]++
		}
	}
	for _, name := range slices.Sorted(maps.Keys(tools)) {
		fmt.Fprintf(out, "runner package the VMs ran: %s (%d VMs)\n", name, tools[name])
	}
	restored := printRestoreTimes(out, boots, sim.Jobs())
	cold, warm := coldStarts(boots, sim.Jobs())
	if len(cold) == 0 && restored > 0 {
		return
	}
	if len(cold) == 0 {
		fmt.Fprintf(out, "VM timings: no cold start recorded (%d VMs reported a boot, %d jobs went to VMs booted before them)\n", len(boots), warm)
		return
	}
	fmt.Fprintf(out, "\nmicroVM cold start, median (min–max) of %d jobs served by a VM booted for them (%s guest", len(cold), boots[0].Arch)
	if warm > 0 {
		fmt.Fprintf(out, "; %d more went to VMs booted before them", warm)
	}
	fmt.Fprintln(out, ")")
	printPhases(out, cold, []phase[coldStart]{
		{"queued → QEMU launched", func(c coldStart) time.Duration { return c.dispatch }},
		{"VM start (QEMU → kernel)", func(c coldStart) time.Duration { return c.vmStart }},
		{"kernel (start → init)", func(c coldStart) time.Duration { return c.kernel }},
		{"init: mounts + modules", func(c coldStart) time.Duration { return c.modules }},
		{"init: network", func(c coldStart) time.Duration { return c.network }},
		{"guest agent start", func(c coldStart) time.Duration { return c.agent }},
		{"config fetch", func(c coldStart) time.Duration { return c.config }},
		{"runner fetch + start", func(c coldStart) time.Duration { return c.runner }},
		{"runner connect", func(c coldStart) time.Duration { return c.connect }},
		{"queued → runner online", func(c coldStart) time.Duration { return c.total }},
		{"bare VM boot (QEMU → init)", coldStart.bare},
	})
	ratios := make([]float64, len(cold))
	for i, c := range cold {
		ratios[i] = float64(c.total) / float64(c.bare())
	}
	slices.Sort(ratios)
	fmt.Fprintf(out, "  %-30s %6.2f×  (%.2f–%.2f)\n", "queued → online / bare boot", ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1])
}

// phase is one line of a VM timing table: its name and how to read it off
// one job's record.
type phase[T any] struct {
	name string
	of   func(T) time.Duration
}

// printPhases prints each phase's median and range over recs.
func printPhases[T any](out io.Writer, recs []T, phases []phase[T]) {
	ds := make([]time.Duration, len(recs))
	for _, ph := range phases {
		for i, r := range recs {
			ds[i] = ph.of(r)
		}
		slices.Sort(ds)
		fmt.Fprintf(out, "  %-30s %6.2f s  (%.2f–%.2f)\n", ph.name, ds[len(ds)/2].Seconds(), ds[0].Seconds(), ds[len(ds)-1].Seconds())
	}
}

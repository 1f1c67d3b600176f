package demo

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
)

// waitSnapshots waits for the qemu providers' template builds (the warm VM's
// Create started them), so the jobs measure restores, not cold boots.
func waitSnapshots(ctx context.Context, out io.Writer, a *app.App) error {
	fmt.Fprintln(out, "waiting for the VM snapshot template")
	for _, p := range a.Providers {
		if qp, ok := p.(*qemu.Provider); ok {
			if err := qp.WaitSnapshots(ctx); err != nil {
				return fmt.Errorf("snapshot template: %w", err)
			}
		}
	}
	return nil
}

// restoreStart is one job that a VM restored from the snapshot template for
// it served. As for a cold start, the guest's uptime stamps are placed on
// the host's clock by the moment the runner took the job.
type restoreStart struct {
	total    time.Duration // job queued → runner took the job
	dispatch time.Duration // job queued → QEMU launched
	qemu     time.Duration // QEMU launched → QEMU started (daemonized; host clock)
	load     time.Duration // → state loaded, guest running and its identity acknowledged (host clock)
	seed     time.Duration // identity received → clock set, random generator reseeded
	config   time.Duration // → runner config received
	runner   time.Duration // → runner found in the image (or downloaded) and started
	connect  time.Duration // runner started → runner online
	take     time.Duration // runner online → the forge hands it the job (the rest of total)
}

func restoreStarts(boots []qemu.Boot, jobs []forgesim.Job) []restoreStart {
	byName := map[string]qemu.Boot{}
	for _, b := range boots {
		byName[b.Name] = b
	}
	var out []restoreStart
	for _, j := range jobs {
		b, ok := byName[j.RunnerName]
		if j.StartedAt.IsZero() || !ok || !b.Restored() || b.Launched.Before(j.CreatedAt) {
			continue
		}
		s := b.Stamps
		online, ok := s["online"]
		if !ok || s["seeded"] == 0 || s["config"] == 0 || s["runner"] == 0 || b.IdentityTaken.IsZero() {
			continue
		}
		r := restoreStart{total: j.StartedAt.Sub(j.CreatedAt), dispatch: b.Launched.Sub(j.CreatedAt),
			qemu: b.QEMUStarted.Sub(b.Launched), load: b.IdentityTaken.Sub(b.QEMUStarted),
			seed: s["seeded"] - s["identity"], config: s["config"] - s["seeded"], runner: s["runner"] - s["config"], connect: online - s["runner"]}
		r.take = r.total - r.dispatch - r.qemu - r.load - (online - s["identity"])
		out = append(out, r)
	}
	return out
}

// printRestoreTimes is the snapshot start's table: job queued → runner
// online for the jobs whose VM was restored for them, phase by phase. It
// returns how many there were.
func printRestoreTimes(out io.Writer, boots []qemu.Boot, jobs []forgesim.Job) int {
	rs := restoreStarts(boots, jobs)
	if len(rs) == 0 {
		return 0
	}
	fmt.Fprintf(out, "\nmicroVM snapshot restore, median (min–max) of %d jobs served by a VM restored for them\n", len(rs))
	printPhases(out, rs, []phase[restoreStart]{
		{"queued → QEMU launched", func(r restoreStart) time.Duration { return r.dispatch }},
		{"QEMU start (host)", func(r restoreStart) time.Duration { return r.qemu }},
		{"restore + identity (host)", func(r restoreStart) time.Duration { return r.load }},
		{"clock + RNG reseed", func(r restoreStart) time.Duration { return r.seed }},
		{"config fetch", func(r restoreStart) time.Duration { return r.config }},
		{"runner fetch + start", func(r restoreStart) time.Duration { return r.runner }},
		{"runner connect", func(r restoreStart) time.Duration { return r.connect }},
		{"online → job taken", func(r restoreStart) time.Duration { return r.take }},
		{"queued → runner online", func(r restoreStart) time.Duration { return r.total }},
	})
	return len(rs)
}

package demo

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
)

// The restore table places the guest's uptime stamps between the host's
// clock readings: the phases must add up to queued → runner online, and
// restored VMs must stay out of the cold-start table (their init stamps are
// the template's).
func TestRestoreStartsAddUp(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	b := qemu.Boot{Name: "vm", Launched: t0.Add(s(0.1)), QEMUStarted: t0.Add(s(0.3)), IdentityTaken: t0.Add(s(0.6)),
		Stamps: map[string]time.Duration{"init": s(1), "modules": s(1.5), "net": s(1.6), "agent": s(2), "identity": s(10), "seeded": s(10.1),
			"config": s(10.3), "runner": s(10.4), "online": s(10.8)}}
	j := forgesim.Job{RunnerName: "vm", CreatedAt: t0, StartedAt: t0.Add(s(1.5))}
	rs := restoreStarts([]qemu.Boot{b}, []forgesim.Job{j})
	if len(rs) != 1 {
		t.Fatalf("restore starts = %+v", rs)
	}
	r := rs[0]
	if r.dispatch != s(0.1) || r.qemu != s(0.2) || r.load != s(0.3) || r.seed != s(0.1) || r.config != s(0.2) || r.runner != s(0.1) || r.connect != s(0.4) || r.total != s(1.5) {
		t.Fatalf("phases = %+v", r)
	}
	if sum := r.dispatch + r.qemu + r.load + r.seed + r.config + r.runner + r.connect + r.take; (sum - r.total).Abs() > time.Millisecond {
		t.Fatalf("phases add up to %v, total %v", sum, r.total)
	}
	if cold, _ := coldStarts([]qemu.Boot{b}, []forgesim.Job{j}); len(cold) != 0 {
		t.Fatalf("a restored VM counted as a cold start: %+v", cold)
	}
	var out bytes.Buffer
	printRestoreTimes(&out, []qemu.Boot{b}, []forgesim.Job{j})
	if !strings.Contains(out.String(), "restore + identity (host)") || !strings.Contains(out.String(), "1.50 s") {
		t.Fatalf("table:\n%s", out.String())
	}
}

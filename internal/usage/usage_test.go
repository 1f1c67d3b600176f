package usage

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

var t0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func table() core.PriceTable {
	return core.PriceTable{Currency: "EUR",
		Prices:    []core.Price{{Provider: "lxd", Flavor: "small", PerMinute: 0.001, StartFee: 0.01}},
		Reference: core.GitHubHostedPrices()}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestComputeSplitsBootWaitRun(t *testing.T) {
	u := Compute(Life{Instance: "m1", PoolID: "p", JobID: 7, Provider: "lxd", Flavor: "small",
		Created: t0, Online: t0.Add(30 * time.Second), JobStart: t0.Add(90 * time.Second),
		JobDone: t0.Add(90*time.Second + 10*time.Minute), Gone: t0.Add(20 * time.Minute)}, table())
	if u.BootSeconds != 30 || u.WaitSeconds != 60 || u.RunSeconds != 600 {
		t.Fatalf("split = %v/%v/%v, want 30/60/600", u.BootSeconds, u.WaitSeconds, u.RunSeconds)
	}
	// 11.5 minutes at 0.001 plus the start fee.
	if !near(u.Cost, 0.01+0.001*11.5) {
		t.Fatalf("cost = %v", u.Cost)
	}
	// 10 minutes on GitHub's Linux 2-core runner at 0.008.
	if !near(u.ReferenceCost, 0.08) || u.Note != "" || u.Currency != "EUR" {
		t.Fatalf("usage = %+v", u)
	}
}

func TestComputeWarmIdleIsOverhead(t *testing.T) {
	u := Compute(Life{Instance: "m2", Provider: "lxd", Flavor: "small",
		Created: t0, Online: t0.Add(time.Minute), Gone: t0.Add(31 * time.Minute)}, table())
	if !u.Overhead() || u.BootSeconds != 60 || u.WaitSeconds != 1800 || u.RunSeconds != 0 || u.ReferenceCost != 0 {
		t.Fatalf("usage = %+v", u)
	}
}

func TestComputeMissingPriceIsReportedNotZero(t *testing.T) {
	u := Compute(Life{Instance: "m3", JobID: 1, Provider: "qemu", Flavor: "big",
		Created: t0, Online: t0, JobStart: t0, Gone: t0.Add(time.Minute)}, table())
	if u.Note == "" || !strings.Contains(u.Note, `"qemu"`) || !strings.Contains(u.Note, `"big"`) {
		t.Fatalf("missing price not reported: %+v", u)
	}
	rows := Summarize([]core.Usage{u}, func(core.Usage) string { return "t" })
	if rows[0].Note == "" {
		t.Fatalf("summary hides the missing price: %+v", rows[0])
	}
}

func TestSummarizeSaving(t *testing.T) {
	a := core.Usage{JobID: 1, RunSeconds: 120, Cost: 0.01, ReferenceCost: 0.016, EndedAt: t0}
	b := core.Usage{WaitSeconds: 600, Cost: 0.02, EndedAt: t0.Add(24 * time.Hour)}
	rows := Summarize([]core.Usage{a, b}, func(core.Usage) string { return "x" })
	if len(rows) != 1 || rows[0].Jobs != 1 || rows[0].Machines != 2 || rows[0].OverheadMinute != 10 ||
		!near(rows[0].Saving, 0.016-0.03) {
		t.Fatalf("rows = %+v", rows)
	}
	if d := Summarize([]core.Usage{a, b}, ByDay); len(d) != 2 || d[0].Key != "2026-11-30" {
		t.Fatalf("by day = %+v", d)
	}
}

// Hosted runners bill every started minute: a 1-second job is a whole one.
func TestReferenceRoundsUpToWholeMinutes(t *testing.T) {
	u := Compute(Life{Instance: "m", JobID: 1, Provider: "lxd", Flavor: "small",
		Created: t0, Online: t0, JobStart: t0, Gone: t0.Add(time.Second)}, table())
	if !near(u.ReferenceCost, 0.008) {
		t.Fatalf("reference for 1 s = %v, want one minute (0.008)", u.ReferenceCost)
	}
}

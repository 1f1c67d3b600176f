package bench

import (
	"fmt"
	"strings"
)

// Slack is how far past its target a figure may be before the short mode
// fails: the bench runs on shared CI machines, so only a regression of this
// size is told apart from noise.
const Slack = 3.0

// Check is one figure against its target.
type Check struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Target float64 `json:"target"`
	// Higher: the figure should be at least Target (else at most).
	Higher bool   `json:"higher_is_better,omitempty"`
	Unit   string `json:"unit"`
	// WallClock: the figure is a latency or a rate, which a busy machine
	// stretches whatever the code does.
	WallClock bool `json:"wall_clock,omitempty"`
	// Status: "ok" (target met), "over" (missed, within Slack), "FAIL", or
	// "noisy" (a wall-clock figure past Slack taken while the machine was busy).
	Status string `json:"status"`
}

func (c *Check) judge() {
	met, within := c.Value <= c.Target, c.Value <= c.Target*Slack
	if c.Higher {
		met, within = c.Value >= c.Target, c.Value >= c.Target/Slack
	}
	switch {
	case met:
		c.Status = "ok"
	case within:
		c.Status = "over"
	default:
		c.Status = "FAIL"
	}
}

// busy reports whether other work had more runnable threads than the
// machine has CPUs around the run (1-minute load average before or after).
func (h Host) busy() bool {
	return h.CPUs > 0 && max(h.LoadBefore[0], h.LoadAfter[0]) > float64(h.CPUs)
}

// checks holds every measured figure up against issue 14's targets. On a
// busy machine a wall-clock figure past Slack is "noisy", not "FAIL": the
// short mode must catch regressions, not another job on a shared CI host.
// CPU times, counts and memory are judged the same either way.
func checks(r *Result) []Check {
	var out []Check
	busy := r.Host.busy()
	add := func(name string, value, target float64, higher bool, unit string) {
		c := Check{Name: name, Value: value, Target: target, Higher: higher, Unit: unit}
		c.judge()
		out = append(out, c)
	}
	wall := func(name string, value, target float64, higher bool, unit string) {
		c := Check{Name: name, Value: value, Target: target, Higher: higher, Unit: unit, WallClock: true}
		c.judge()
		if c.Status == "FAIL" && busy {
			c.Status = "noisy"
		}
		out = append(out, c)
	}
	for _, b := range r.Bursts {
		if b.Jobs == 200 {
			wall("burst 200: webhook → create p99", b.P99Ms, 50, false, "ms")
		}
	}
	if s := r.Sustained; s != nil {
		wall("sustained webhooks answered", s.AchievedPerSec, sustainedRate, true, "/s")
		wall("sustained: webhook → create p99", s.P99Ms, 50, false, "ms")
	}
	if s := r.Scale; s != nil {
		add(fmt.Sprintf("RSS at %d pools, %d instances", s.Pools, s.Instances), s.PeakRSSMiB, 150, false, "MiB")
	}
	if s := r.Scheduler; s != nil {
		// CPU time, not wall time: a shared machine stretches the wall clock.
		add("scheduler decision (CPU)", s.CPUMs, 10, false, "ms")
	}
	for _, c := range r.Calls {
		if c.Target > 0 {
			add("forge calls per job, "+c.Mode, c.Charged, c.Target, false, "")
		}
	}
	if w := r.Warm; w != nil {
		wall("warm start: queued → running p99", w.P99S, 1, false, "s")
	}
	return out
}

// Failed lists the checks past their target by more than Slack.
func (r *Result) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == "FAIL" {
			rel := "at most"
			if c.Higher {
				rel = "at least"
			}
			out = append(out, fmt.Sprintf("%s is %.2f%s; the target is %s %.2f%s and the bench fails past %.0f× that",
				c.Name, c.Value, c.Unit, rel, c.Target, c.Unit, Slack))
		}
	}
	return out
}

// FailError is the short mode's verdict: nil when no check failed.
func (r *Result) FailError() error {
	f := r.Failed()
	if len(f) == 0 {
		return nil
	}
	return fmt.Errorf("performance regression (%d check(s) past %.0f× their target): %s; run `paddock bench` for the full table and see docs/performance.md",
		len(f), Slack, strings.Join(f, "; "))
}

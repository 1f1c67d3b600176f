package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Print writes the result as the table `paddock bench` shows.
func (r *Result) Print(w io.Writer) {
	h := r.Host
	mode := "full"
	if r.Short {
		mode = "short"
	}
	fmt.Fprintf(w, "Paddock bench (%s): %d CPUs, %s, load %.2f %.2f %.2f before, %.2f %.2f %.2f after, %.0f s\n",
		mode, h.CPUs, h.GoVersion, h.LoadBefore[0], h.LoadBefore[1], h.LoadBefore[2],
		h.LoadAfter[0], h.LoadAfter[1], h.LoadAfter[2], h.DurationSec)
	if len(r.Bursts) > 0 {
		fmt.Fprintln(w, "\ndispatch: webhook → provider create (no-op provider, webhooks 16 at a time)")
		for _, b := range r.Bursts {
			fmt.Fprintf(w, "  burst %5d jobs      p50 %7.1f ms   p99 %7.1f ms   all created in %.2f s\n", b.Jobs, b.P50Ms, b.P99Ms, b.WallSec)
		}
	}
	if s := r.Sustained; s != nil {
		fmt.Fprintf(w, "\nsustained: %d webhooks/s offered (each job: queued, in_progress, completed; machines run 1 s) for %d jobs\n",
			s.OfferedPerSec, s.Jobs)
		fmt.Fprintf(w, "  answered %.0f/s      create p50 %.1f ms   p99 %.1f ms (%d jobs got their own machine)\n",
			s.AchievedPerSec, s.P50Ms, s.P99Ms, s.Created)
		fmt.Fprintf(w, "  manager CPU %.2f s per 1,000 jobs; RSS %.0f MiB (peak %.0f MiB)\n", s.CPUSecPer1000, s.RSSMiB, s.PeakRSSMiB)
	}
	if s := r.Scale; s != nil {
		fmt.Fprintf(w, "\nscale: %d pools, %d tracked instances on SQLite, then a %d-job burst\n", s.Pools, s.Instances, s.Jobs)
		fmt.Fprintf(w, "  manager RSS %.0f MiB (peak %.0f MiB); create p50 %.1f ms   p99 %.1f ms; CPU %.2f s per 1,000 jobs\n",
			s.RSSMiB, s.PeakRSSMiB, s.P50Ms, s.P99Ms, s.CPUSecPer1000)
	}
	if s := r.Scheduler; s != nil {
		fmt.Fprintf(w, "\nscheduler: one decision at %d pools × %d instances × %d queued jobs (%d runs)\n", s.Pools, s.Instances, s.Jobs, s.Runs)
		fmt.Fprintf(w, "  wall p50 %.1f ms, max %.1f ms; CPU %.1f ms per decision\n", s.P50Ms, s.MaxMs, s.CPUMs)
	}
	if len(r.Calls) > 0 {
		fmt.Fprintln(w, "\nforge calls per job (process provider, demo jobs; start-up and teardown left out)")
		fmt.Fprintf(w, "  %-21s %5s %8s %8s %10s %7s %8s\n", "mode", "jobs", "all", "charged", "long polls", "target", "start-up")
		for _, c := range r.Calls {
			target := "—"
			if c.Target > 0 {
				target = fmt.Sprintf("≤ %.1f", c.Target)
			}
			long := "—"
			if c.LongPolls > 0 {
				long = fmt.Sprintf("%.2f", c.LongPolls)
			}
			fmt.Fprintf(w, "  %-21s %5d %8.2f %8.2f %10s %7s %8d\n", c.Mode, c.Jobs, c.PerJob, c.Charged, long, target, c.Startup)
			keys := make([]string, 0, len(c.ByEndpoint))
			for k := range c.ByEndpoint {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool {
				if c.ByEndpoint[keys[i]] != c.ByEndpoint[keys[j]] {
					return c.ByEndpoint[keys[i]] > c.ByEndpoint[keys[j]]
				}
				return keys[i] < keys[j]
			})
			for _, k := range keys {
				fmt.Fprintf(w, "      %5.2f  %s\n", c.ByEndpoint[k], k)
			}
		}
	}
	if s := r.Warm; s != nil {
		fmt.Fprintf(w, "\nwarm start: %d jobs queued on %d idle runners (process provider)\n", s.Jobs, s.Jobs)
		fmt.Fprintf(w, "  queued → running p50 %.2f s   p99 %.2f s\n", s.P50S, s.P99S)
	}
	if len(r.Checks) > 0 {
		fmt.Fprintf(w, "\nchecks (target; --short fails past %.0f×)\n", Slack)
		for _, c := range r.Checks {
			rel := "≤"
			if c.Higher {
				rel = "≥"
			}
			fmt.Fprintf(w, "  %-4s %-48s %9.2f %-3s (%s %g)\n", c.Status, c.Name, c.Value, c.Unit, rel, c.Target)
		}
	}
	fmt.Fprintln(w, strings.TrimRight("", "\n"))
}

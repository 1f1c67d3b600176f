package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/store"
)

// Summary is what a demo run measured.
type Summary struct {
	Jobs, Completed, Succeeded int
	Elapsed                    time.Duration
	// WaitP50/P99: job queued at the forge → job running on a runner.
	WaitP50, WaitP99 time.Duration
	// DispatchP50/P99: job event received → provider Create called.
	DispatchP50, DispatchP99 time.Duration
	MachinesCreated          int
	MachinesDestroyed        int
	// Leaks after teardown: machines the provider still has, runner
	// registrations the forge still has, instances the store still thinks live.
	LeakedMachines, LeakedRunners, LeakedInstances int
	ForgeAPICalls                                  int
	// NotModified of those calls were answered 304 (not charged by GitHub).
	NotModified int
	Webhooks    int
	// ByEndpoint: the forge API calls per route template ("GET /repos/{owner}/{repo}/actions/runners"),
	// all answers counted; 304s are also in NotModifiedBy.
	ByEndpoint, NotModifiedBy map[string]int
	// StartupCalls were made before the first job was queued (counted only
	// with Options.Settle; the totals above leave them out).
	StartupCalls int
}

// OK: every job completed successfully and nothing leaked.
func (s *Summary) OK() bool {
	return s.Completed == s.Jobs && s.Succeeded == s.Jobs &&
		s.LeakedMachines == 0 && s.LeakedRunners == 0 && s.LeakedInstances == 0
}

// latencies collects dispatch latencies from the controller.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) snapshot() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.d...)
}

// Percentile returns the p-th percentile (nearest rank) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(p/100*float64(len(s))+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// teardown disables every pool so warm idle machines are removed, then waits
// for the store to have no live instance.
func teardown(ctx context.Context, a *app.App) {
	pools, _ := a.Store.ListPools(ctx)
	for _, p := range pools {
		p.Enabled = false
		_ = a.Store.UpdatePool(ctx, &p)
	}
	a.Controller.Notify()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		live, err := a.Store.ListInstances(ctx, store.InstanceFilter{Live: true})
		if err == nil && len(live) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func summarize(ctx context.Context, sim *forgesim.Sim, a *app.App, n int, elapsed time.Duration, disp *latencies,
	startup map[string]map[int]int) *Summary {
	s := &Summary{Jobs: n, Elapsed: elapsed}
	var waits []time.Duration
	for _, j := range sim.Jobs() {
		if j.Status == forgesim.StatusCompleted {
			s.Completed++
			if j.Conclusion == forgesim.ConclusionSuccess {
				s.Succeeded++
			}
		}
		if !j.StartedAt.IsZero() {
			waits = append(waits, j.StartedAt.Sub(j.CreatedAt))
		}
	}
	s.WaitP50, s.WaitP99 = Percentile(waits, 50), Percentile(waits, 99)
	ds := disp.snapshot()
	s.DispatchP50, s.DispatchP99 = Percentile(ds, 50), Percentile(ds, 99)
	// Counted before the teardown: removing the warm runners is not the jobs' cost.
	st := sim.Stats()
	s.ByEndpoint, s.NotModifiedBy = map[string]int{}, map[string]int{}
	for k, byStatus := range st.APICalls {
		if strings.Contains(k, "/_sim/") {
			continue
		}
		for code, c := range byStatus {
			c -= startup[k][code]
			s.StartupCalls += startup[k][code]
			if c <= 0 {
				continue
			}
			s.ForgeAPICalls += c
			s.ByEndpoint[k] += c
			if code == http.StatusNotModified {
				s.NotModified += c
				s.NotModifiedBy[k] += c
			}
		}
	}
	s.Webhooks = st.WebhooksDelivered
	teardown(ctx, a)
	all, _ := a.Store.ListInstances(ctx, store.InstanceFilter{})
	for _, i := range all {
		s.MachinesCreated++
		if i.State == core.InstanceDeleted {
			s.MachinesDestroyed++
		} else {
			s.LeakedInstances++
		}
	}
	for _, p := range a.Providers {
		ms, err := p.List(ctx)
		if err != nil {
			s.LeakedMachines = -1
			continue
		}
		s.LeakedMachines += len(ms)
	}
	s.LeakedRunners = len(sim.Runners())
	return s
}

// Print writes the summary as a small report.
func (s *Summary) Print(w io.Writer) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	sec := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
	fmt.Fprintf(w, "\nSummary (%s)\n", sec(s.Elapsed))
	fmt.Fprintf(w, "  jobs completed            %d/%d (%d succeeded)\n", s.Completed, s.Jobs, s.Succeeded)
	fmt.Fprintf(w, "  queued → running          p50 %s   p99 %s\n", sec(s.WaitP50), sec(s.WaitP99))
	fmt.Fprintf(w, "  event → provider create   p50 %s   p99 %s\n", ms(s.DispatchP50), ms(s.DispatchP99))
	fmt.Fprintf(w, "  machines                  %d created, %d destroyed\n", s.MachinesCreated, s.MachinesDestroyed)
	perJob := 0.0
	if s.Jobs > 0 {
		perJob = float64(s.ForgeAPICalls) / float64(s.Jobs)
	}
	fmt.Fprintf(w, "  forge API calls           %d (%.2f per job), %d webhooks\n", s.ForgeAPICalls, perJob, s.Webhooks)
	if s.StartupCalls > 0 {
		fmt.Fprintf(w, "    start-up (not counted)  %d\n", s.StartupCalls)
	}
	if s.NotModified > 0 {
		fmt.Fprintf(w, "    of which 304 (free)     %d; charged %.2f per job\n", s.NotModified,
			float64(s.ForgeAPICalls-s.NotModified)/float64(max(s.Jobs, 1)))
	}
	s.printEndpoints(w)
	fmt.Fprintf(w, "  leaks                     %d machines, %d runner registrations, %d instances\n",
		s.LeakedMachines, s.LeakedRunners, s.LeakedInstances)
	if s.OK() {
		fmt.Fprintln(w, "  result                    PASS")
	} else {
		fmt.Fprintln(w, "  result                    FAIL")
	}
}

// printEndpoints lists the forge calls per endpoint, most-called first, with
// the per-job rate: where the forge budget goes.
func (s *Summary) printEndpoints(w io.Writer) {
	keys := make([]string, 0, len(s.ByEndpoint))
	for k := range s.ByEndpoint {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if s.ByEndpoint[keys[i]] != s.ByEndpoint[keys[j]] {
			return s.ByEndpoint[keys[i]] > s.ByEndpoint[keys[j]]
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		free := ""
		if n := s.NotModifiedBy[k]; n > 0 {
			free = fmt.Sprintf(" (%d were 304)", n)
		}
		fmt.Fprintf(w, "    %5d  %4.2f/job  %s%s\n", s.ByEndpoint[k], float64(s.ByEndpoint[k])/float64(max(s.Jobs, 1)), k, free)
	}
}

package ui

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// History is how far back the overview's charts and wait figures look.
const History = 6 * time.Hour

// maxHistoryJobs bounds the jobs read for the wait figures, whatever the
// traffic: the newest ones are read first.
const maxHistoryJobs = 20000

// percentile is the nearest-rank percentile of sorted ds.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func sortDurations(ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
}

// jobWait is how long a started job waited for its runner.
func jobWait(j core.Job) (time.Duration, bool) {
	if j.StartedAt.IsZero() {
		return 0, false
	}
	from := j.QueuedAt
	if from.IsZero() {
		from = j.ReceivedAt
	}
	return max(j.StartedAt.Sub(from), 0), true
}

// waitingFor is how long a queued job has waited so far.
func waitingFor(j core.Job, now time.Time) time.Duration {
	from := j.QueuedAt
	if from.IsZero() {
		from = j.ReceivedAt
	}
	return max(now.Sub(from), 0)
}

type stateCount struct {
	State string
	Count int
}

type hourWait struct {
	Hour     time.Time
	Jobs     int
	P50, P99 time.Duration
}

type budget struct {
	Forge     string
	Remaining float64
}

type alert struct {
	Text, Link string
}

// overviewData is the overview page.
type overviewData struct {
	Queued           int
	WaitNowP50       time.Duration // among jobs queued now, how long they have waited
	WaitNowP99       time.Duration
	Started          int // jobs started within History
	WaitP50, WaitP99 time.Duration
	Hours            []hourWait
	Machines         []stateCount
	Live             int
	Budgets          []budget
	Alerts           []alert
	Recent           []eventRow
	Charts           chartData
}

// chartData goes to app.js as JSON.
type chartData struct {
	// WaitBuckets are upper bounds in seconds (the last bucket is open);
	// WaitCounts the started jobs whose wait falls in each.
	WaitBuckets []float64 `json:"wait_buckets"`
	WaitLabels  []string  `json:"wait_labels"`
	WaitCounts  []int     `json:"wait_counts"`
	// Machines over time: unix seconds and live machines then.
	Times []int64 `json:"times"`
	Live  []int   `json:"live"`
}

var waitBuckets = []time.Duration{5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute,
	2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour}

func (h *Handler) overviewData(ctx context.Context) (overviewData, error) {
	now := h.o.Now()
	var d overviewData
	queued, err := h.o.Store.ListJobs(ctx, store.JobFilter{States: []core.JobState{core.JobQueued}})
	if err != nil {
		return d, err
	}
	d.Queued = len(queued)
	var waiting []time.Duration
	for _, j := range queued {
		waiting = append(waiting, waitingFor(j, now))
	}
	sortDurations(waiting)
	d.WaitNowP50, d.WaitNowP99 = percentile(waiting, 50), percentile(waiting, 99)

	waits, hours, err := h.recentWaits(ctx, now)
	if err != nil {
		return d, err
	}
	d.Started = len(waits)
	sortDurations(waits)
	d.WaitP50, d.WaitP99 = percentile(waits, 50), percentile(waits, 99)
	d.Hours = hours
	d.Charts.WaitCounts = make([]int, len(waitBuckets)+1)
	for i, b := range waitBuckets {
		d.Charts.WaitBuckets = append(d.Charts.WaitBuckets, b.Seconds())
		d.Charts.WaitLabels = append(d.Charts.WaitLabels, "≤"+fmtDur(b))
		_ = i
	}
	d.Charts.WaitLabels = append(d.Charts.WaitLabels, ">"+fmtDur(waitBuckets[len(waitBuckets)-1]))
	for _, w := range waits {
		d.Charts.WaitCounts[sort.Search(len(waitBuckets), func(i int) bool { return w <= waitBuckets[i] })]++
	}

	all, err := h.o.Store.ListInstances(ctx, store.InstanceFilter{})
	if err != nil {
		return d, err
	}
	byState := map[core.InstanceState]int{}
	for _, i := range all {
		if i.State.Live() {
			byState[i.State]++
			d.Live++
		}
	}
	for _, s := range core.InstanceStates {
		if s.Live() {
			d.Machines = append(d.Machines, stateCount{string(s), byState[s]})
		}
	}
	d.Charts.Times, d.Charts.Live = machinesOverTime(all, now)
	d.Budgets = h.budgets()
	if d.Alerts, err = h.alerts(ctx, byState[core.InstanceError]); err != nil {
		return d, err
	}
	d.Recent, err = h.recentEvents(ctx, 15, "", 15)
	return d, err
}

// recentWaits reads jobs received within History, newest first, and returns
// the waits of those that started, overall and per hour.
func (h *Handler) recentWaits(ctx context.Context, now time.Time) ([]time.Duration, []hourWait, error) {
	from := now.Add(-History)
	perHour := map[int64][]time.Duration{} // by the hour's unix time
	var all []time.Duration
	cursor, seen := "", 0
walk:
	for {
		jobs, next, err := h.o.Store.ListJobsPage(ctx, store.JobFilter{}, store.Page{Limit: 500, Cursor: cursor})
		if err != nil {
			return nil, nil, err
		}
		for _, j := range jobs {
			if j.ReceivedAt.Before(from) || seen >= maxHistoryJobs {
				break walk
			}
			seen++
			if w, ok := jobWait(j); ok {
				all = append(all, w)
				hr := j.StartedAt.Truncate(time.Hour).Unix()
				perHour[hr] = append(perHour[hr], w)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	var hours []hourWait
	for hr := now.Truncate(time.Hour); !hr.Before(from.Truncate(time.Hour)); hr = hr.Add(-time.Hour) {
		ws := perHour[hr.Unix()]
		sortDurations(ws)
		hours = append(hours, hourWait{Hour: hr, Jobs: len(ws), P50: percentile(ws, 50), P99: percentile(ws, 99)})
	}
	return all, hours, nil
}

// machinesOverTime counts, every 5 minutes over History, the machines that
// existed then: created before and not yet deleted (a deleted instance's
// last update is its deletion).
func machinesOverTime(all []core.Instance, now time.Time) ([]int64, []int) {
	const step = 5 * time.Minute
	n := int(History/step) + 1
	times, live := make([]int64, n), make([]int, n)
	start := now.Add(-History)
	for k := range n {
		times[k] = start.Add(time.Duration(k) * step).Unix()
	}
	times[n-1] = now.Unix()
	for _, i := range all {
		born, gone := i.CreatedAt.Unix(), int64(1<<62)
		if !i.State.Live() {
			gone = i.UpdatedAt.Unix()
		}
		for k, t := range times {
			if born <= t && t < gone {
				live[k]++
			}
		}
	}
	return times, live
}

func (h *Handler) budgets() []budget {
	if h.o.Metrics == nil {
		return nil
	}
	mfs, err := h.o.Metrics.Registry.Gather()
	if err != nil {
		return nil
	}
	var out []budget
	for _, mf := range mfs {
		if mf.GetName() != "paddock_forge_rate_limit_remaining" {
			continue
		}
		for _, m := range mf.GetMetric() {
			name := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "forge" {
					name = l.GetValue()
				}
			}
			out = append(out, budget{Forge: name, Remaining: m.GetGauge().GetValue()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Forge < out[j].Forge })
	return out
}

func (h *Handler) alerts(ctx context.Context, errored int) ([]alert, error) {
	pools, err := h.o.Store.ListPools(ctx)
	if err != nil {
		return nil, err
	}
	var out []alert
	health := h.health()
	for _, p := range pools {
		if hl, ok := health[p.ID]; ok && hl.Failing() {
			out = append(out, alert{Text: fmt.Sprintf("Pool %s is failing: %d machine creates in a row failed (%s)",
				p.Name, hl.Failures, hl.LastError), Link: "/ui/pools"})
		}
		if !p.Enabled {
			out = append(out, alert{Text: fmt.Sprintf("Pool %s is drained (disabled): it takes no jobs", p.Name), Link: "/ui/pools"})
		}
	}
	if errored > 0 {
		out = append(out, alert{Text: fmt.Sprintf("%d machines are in state error", errored),
			Link: "/ui/instances?state=error"})
	}
	return out, nil
}
